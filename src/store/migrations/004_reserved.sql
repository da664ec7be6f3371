-- 4: shipped as a no-op slot reserved for issue 5; the issuance schema is 6.
-- Never edit a migration that has shipped: databases exist at this version.
SELECT 1;
