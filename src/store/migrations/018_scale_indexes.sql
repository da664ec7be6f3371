-- 18: indexes that keep store reads O(page) or O(log n) with millions of issued
-- certificates (issue 16). Before, each of these read every row of the tenant:
--   a page of the certificate store (rowid order within tenant and store: an index on
--   (tenant, store_id) holds its rows in rowid order, so a cursor is a seek, not a sort);
--   the revocation of a certificate by serial;
--   the VICAL metadata of an IACA certificate (only 'vical-entry' rows are indexed).
    CREATE INDEX stored_certificates_page ON stored_certificates (tenant, store_id);
    CREATE INDEX issued_certificates_serial ON issued_certificates (tenant, serial, id);
    CREATE INDEX stored_certificates_vical ON stored_certificates (tenant, der)
        WHERE kind = 'vical-entry';
-- Every issuance writes one page of each index of its rows: the spki index is a prefix of
-- issued_certificates_ca (tenant, subject_public_key, is_ca, id), which serves every query
-- it served, so it goes.
    DROP INDEX issued_certificates_spki;
