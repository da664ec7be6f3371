-- 8: a tenant's default issuerAltName for its managed roots (ISO/IEC 18013-5 B.1.2: an
-- e-mail address or a URI), set by the operator with `hsm-pki tenant set`.
ALTER TABLE tenants ADD COLUMN issuer_alt_uri TEXT;
ALTER TABLE tenants ADD COLUMN issuer_alt_email TEXT;
