-- Clavis schema v7 (SQLite): a tenant may have its own login, consent and logout app;
-- NULL means the server-wide setting. Keep in step with migrations/postgres/0007_tenant_settings.sql.

ALTER TABLE tenants ADD COLUMN login_url TEXT;
ALTER TABLE tenants ADD COLUMN consent_url TEXT;
ALTER TABLE tenants ADD COLUMN logout_url TEXT;
