-- Clavis schema v13 (SQLite): the secret of a tenant's pairwise subject identifiers
-- (OpenID Connect Core §8.1), made on first use and never changed: changing it would
-- change every pairwise `sub` the tenant has issued.
-- Keep in step with migrations/postgres/0013_pairwise_salt.sql.

ALTER TABLE tenants ADD COLUMN pairwise_salt TEXT;
