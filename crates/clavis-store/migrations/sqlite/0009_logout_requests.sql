-- Clavis schema v9 (SQLite): Ory Hydra's logout requests. RP-initiated logout sends the
-- browser to the logout app with a challenge; the app accepts (the browser comes back with
-- a single-use verifier and the session ends) or rejects (the session stays). Both handles
-- are stored as SHA-256 hashes.
-- Keep in step with migrations/postgres/0009_logout_requests.sql.

CREATE TABLE logout_requests (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    challenge_hash TEXT NOT NULL,
    verifier_hash  TEXT,
    state          TEXT NOT NULL,
    data           TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, challenge_hash)
);

CREATE UNIQUE INDEX logout_requests_verifier ON logout_requests (tenant_id, verifier_hash);
