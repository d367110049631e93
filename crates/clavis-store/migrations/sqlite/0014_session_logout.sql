-- Clavis schema v14 (SQLite): OpenID Back-Channel and Front-Channel Logout.
-- session_clients: which clients with a logout URI were given tokens in which login
-- session (sid), so that ending the session can tell them. One row per (sid, client);
-- it lives as long as the session (or, for a login that was not remembered, as long as
-- the grants it made can). issuer is the one the client's ID tokens named.
-- logout_deliveries: logout tokens still to be POSTed to a backchannel_logout_uri (the
-- durable half of delivery: a node that stops mid-retry leaves its rows to the next
-- cleanup sweep). claims is the JSON of the token; it is signed at each attempt.
-- Keep in step with migrations/postgres/0014_session_logout.sql.

CREATE TABLE session_clients (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    sid         TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sid, client_id)
);
CREATE INDEX session_clients_subject ON session_clients (tenant_id, subject);

CREATE TABLE logout_deliveries (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    id               TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    claims           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX logout_deliveries_due ON logout_deliveries (tenant_id, next_attempt_at);
