-- 4: reserved for the issuance ledger and certificate store (issue 5). Replace this
-- no-op before it ships.
SELECT 1;
