-- 3: shipped as a no-op slot reserved for issue 4; the root CA and signer schema is 5.
-- Never edit a migration that has shipped: databases exist at this version.
SELECT 1;
