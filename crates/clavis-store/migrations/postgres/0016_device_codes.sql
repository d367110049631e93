-- Clavis schema v16 (PostgreSQL): the device authorization grant (RFC 8628). One row per
-- device authorization request: the device polls with its device_code, the user types
-- the user_code (both kept as hashes). status moves pending -> claimed (a browser or the
-- authms API took the user code) -> approved | denied -> spent (tokens issued).
-- request is the JSON of what was asked (scope, audience, issuer); grant the JSON of
-- what the user granted, once approved. The device may poll once per interval_secs.
-- Keep in step with migrations/sqlite/0016_device_codes.sql.

CREATE TABLE device_codes (
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    id                TEXT NOT NULL,
    device_code_hash  TEXT NOT NULL,
    user_code_hash    TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    request           TEXT NOT NULL,
    status            TEXT NOT NULL,
    grant_data        TEXT,
    interval_secs     BIGINT NOT NULL,
    last_polled_at    BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, device_code_hash),
    UNIQUE (tenant_id, user_code_hash)
);
