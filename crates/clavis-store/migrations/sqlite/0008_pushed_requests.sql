-- Clavis schema v8 (SQLite): pushed authorization requests (RFC 9126). A row holds the
-- parameters a client pushed to /oauth2/par, under the SHA-256 of the request_uri handed
-- back; the authorization endpoint takes it (once) before it expires.
-- Keep in step with migrations/postgres/0008_pushed_requests.sql.

CREATE TABLE pushed_requests (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    request_uri_hash TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    params           TEXT NOT NULL,
    expires_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, request_uri_hash)
);
