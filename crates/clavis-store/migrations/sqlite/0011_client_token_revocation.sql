-- Clavis schema v11 (SQLite): revoking all tokens of a client. Opaque access tokens name
-- their client and creation time (filled in from their claims for existing rows), and a
-- client keeps its revocation point: access tokens issued at or before
-- `tokens_revoked_at` are inactive from `tokens_revoked_effective` on (JWTs are not
-- stored one by one, so this is how they are revoked).
-- Keep in step with migrations/postgres/0011_client_token_revocation.sql.

ALTER TABLE opaque_tokens ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE opaque_tokens ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
UPDATE opaque_tokens SET client_id = COALESCE(json_extract(claims, '$.client_id'), ''),
                         created_at = COALESCE(json_extract(claims, '$.iat'), 0);
CREATE INDEX opaque_tokens_client ON opaque_tokens (tenant_id, client_id, created_at);
CREATE INDEX refresh_tokens_client ON refresh_tokens (tenant_id, client_id, created_at);

ALTER TABLE clients ADD COLUMN tokens_revoked_at BIGINT;
ALTER TABLE clients ADD COLUMN tokens_revoked_effective BIGINT;
