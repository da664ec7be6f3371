-- 3: reserved for root CAs and signers (issue 4). Replace this no-op before it ships.
SELECT 1;
