-- Clavis schema v12 (SQLite): a tenant's default signing algorithms (JSON
-- {"id_token":"RS256","access_token":"ES256"}); NULL means those defaults. Signing keys of
-- the new algorithms are made on first use, as the first ES256 key always was.
-- Keep in step with migrations/postgres/0012_signing_algorithms.sql.

ALTER TABLE tenants ADD COLUMN signing_algs TEXT;
