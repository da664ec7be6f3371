-- 16: PLACEHOLDER on branch status only, replaced by main's migration 16 (signer
-- revocation, stored CRLs) at the next merge. Never shipped.
SELECT 1;
