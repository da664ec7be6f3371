-- 11: whether each issued certificate is a CA certificate (basicConstraints cA), so that
-- the issuer certificate of a key is found by key among its CA certificates, however many
-- end-entity certificates the same key has (issue 11: it was searched among the key's 16
-- newest rows). NULL on rows written before: those are parsed when searched.

    ALTER TABLE issued_certificates ADD COLUMN is_ca INTEGER CHECK (is_ca IN (0, 1));
    CREATE INDEX issued_certificates_ca
        ON issued_certificates (tenant, subject_public_key, is_ca, id);
