-- Clavis schema v3 (PostgreSQL): the claims /userinfo returns for an access token, keyed by
-- its jti, kept until the token expires. Keep in step with migrations/sqlite/0003_userinfo.sql.

CREATE TABLE userinfo_claims (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    jti         TEXT NOT NULL,
    subject     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    data        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
