-- 7: a no-op slot reserved for work on another branch, which replaces this file when it is
-- merged; the tenant issuerAltName defaults are 8.
-- Never edit a migration that has shipped: databases exist at this version.
SELECT 1;
