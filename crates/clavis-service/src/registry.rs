//! The client registry: create, read, list, update, delete, clone, and the secrets of a
//! client. Every write goes to the audit log in the same transaction, and drops the
//! client from this node's cache.

use clavis_core::{ids, secret, AuthMethod, Client, ClientInput, ClientStatus, GrantType, TenantId, ValidationError};
use clavis_store::{AuditEntry, ClientFilter, SecretRecord, SecretStatus};

use crate::{ServiceError, Services};

/// Who makes a change, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// At most this many active secrets per client (rotation's expiring ones not counted).
pub const MAX_ACTIVE_SECRETS: i64 = 2;
/// The longest grace period a rotation may ask for: 30 days.
pub const MAX_GRACE_SECS: i64 = 30 * 24 * 3600;

type Result<T> = std::result::Result<T, ServiceError>;

pub(crate) fn audit(client_id: &str, actor: &Actor, action: &str, fields: Vec<&str>, detail: String, now: i64) -> AuditEntry {
    AuditEntry {
        id: ids::ulid(),
        client_id: client_id.to_owned(),
        actor: actor.0.clone(),
        action: action.to_owned(),
        changed_fields: fields.into_iter().map(str::to_owned).collect(),
        detail,
        created_at: now,
    }
}

/// When the newest working secret stops working (Hydra's `client_secret_expires_at`): 0 if never.
pub(crate) fn secret_expiry(secrets: &[SecretRecord], now: i64) -> i64 {
    secrets.iter().filter(|s| s.is_valid_at(now)).max_by_key(|s| (s.created_at, s.secret_id.clone())).and_then(|s| s.expires_at).unwrap_or(0)
}

/// A new secret's record, without its value (see [`Services::make_secret`]).
fn secret_record(client_id: &str, value: &str, description: String, expires_at: Option<i64>, now: i64) -> SecretRecord {
    SecretRecord {
        secret_id: ids::ulid(),
        client_id: client_id.to_owned(),
        secret_hash: secret::hash(value),
        last_four: secret::last_four(value),
        description,
        status: SecretStatus::Active,
        created_at: now,
        updated_at: now,
        expires_at,
        last_used_at: None,
        sealed: None,
    }
}

/// Where a sealed secret belongs (AES-GCM associated data): it opens nowhere else.
pub(crate) fn seal_aad(t: &TenantId, client_id: &str, secret_id: &str) -> String {
    format!("{t}/{client_id}/{secret_id}")
}

/// Where a new secret's value comes from, which decides how it is hashed.
pub(crate) enum NewSecret {
    /// 256 random bits: SHA-256.
    Generated,
    /// Chosen by an API caller, maybe weak: argon2id, through the KDF bound.
    Chosen(String),
    /// The operator's bootstrap secret, at least 32 characters (checked at start-up):
    /// SHA-256 like a generated one, since a KDF would only make it a lever for
    /// exhausting the server's memory.
    Bootstrap(String),
}

impl From<Option<String>> for NewSecret {
    fn from(v: Option<String>) -> Self {
        v.map_or(NewSecret::Generated, NewSecret::Chosen)
    }
}

impl Services {
    /// A new secret for `client`: its record and its value (to be shown once). For a
    /// client_secret_jwt client the record also holds the value sealed with the server key.
    async fn make_secret(
        &self,
        t: &TenantId,
        client: &Client,
        value: NewSecret,
        description: String,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(SecretRecord, String)> {
        let (value, hash) = match value {
            NewSecret::Generated => {
                let v = secret::generate();
                let h = secret::hash(&v);
                (v, h)
            }
            NewSecret::Bootstrap(v) => {
                let h = secret::hash(&v);
                (v, h)
            }
            NewSecret::Chosen(v) => {
                let h = self.hash_supplied_secret(&v).await?;
                (v, h)
            }
        };
        let mut record = secret_record(&client.client_id, &value, description, expires_at, now);
        record.secret_hash = hash;
        if client.auth_methods.contains(&AuthMethod::ClientSecretJwt) {
            let key = self.sealing_key()?;
            record.sealed = Some(secret::seal(key, &value, &seal_aad(t, &client.client_id, &record.secret_id)));
        }
        Ok((record, value))
    }

    /// client_secret_jwt needs a secret the server can read: one created sealed. A client
    /// switching to it keeps only hashed secrets, so the switch is refused (create the
    /// client with client_secret_jwt instead) rather than leaving it unable to sign in.
    pub(crate) async fn check_secret_jwt_switch(&self, t: &TenantId, client: &Client, had_it: bool) -> Result<()> {
        if had_it || !client.auth_methods.contains(&AuthMethod::ClientSecretJwt) {
            return Ok(());
        }
        self.sealing_key()?;
        let now = self.now();
        let secrets = self.store.client_secrets(t, &client.client_id).await?;
        if secrets.iter().any(|s| s.is_valid_at(now) && s.sealed.is_some()) {
            return Ok(());
        }
        Err(ValidationError::new(
            "client_auth_methods",
            "client_secret_jwt cannot be added to a client whose secrets are stored only as hashes; create a new client with it",
        )
        .into())
    }

    fn sealing_key(&self) -> Result<&[u8; 32]> {
        self.settings.secret_sealing_key.as_ref().ok_or_else(|| {
            ValidationError::new("client_auth_methods", "client_secret_jwt needs the server to keep secrets sealed; set CLAVIS_SECRET_ENCRYPTION_KEY")
                .into()
        })
    }

    /// Registers a client; returns it and its secret (confidential secret-based clients).
    pub async fn create_client(&self, t: &TenantId, input: &ClientInput, actor: &Actor) -> Result<(Client, Option<String>)> {
        let now = self.now();
        let mut client = Client::create(t.clone(), ids::ulid(), ids::new_client_id(), input, now)?;
        if client.auth_methods.contains(&AuthMethod::ClientSecretJwt) {
            self.sealing_key()?;
        }
        let fields = input.present_fields();
        let entry = audit(&client.client_id, actor, "create", fields, String::new(), now);
        self.insert_new(&mut client, None, entry, now).await
    }

    /// Stores a new client with its first secret (`supplied`, or a generated one) if it
    /// uses secrets, and the audit entry.
    pub(crate) async fn insert_new(
        &self,
        client: &mut Client,
        supplied: Option<String>,
        entry: AuditEntry,
        now: i64,
    ) -> Result<(Client, Option<String>)> {
        let secret = match client.needs_secret() {
            true => Some(self.make_secret(&client.tenant_id, client, supplied.into(), "initial".into(), None, now).await?),
            false => None,
        };
        if let Some((record, _)) = &secret {
            client.secret_last_four = record.last_four.clone();
        }
        self.store.insert_client(client, secret.as_ref().map(|(r, _)| r), &entry).await?;
        Ok((client.clone(), secret.map(|(_, v)| v)))
    }

    /// Registers a client another API surface built whole (the Hydra API), with its
    /// caller-chosen secret if it gave one.
    pub async fn create_built_client(
        &self,
        t: &TenantId,
        mut client: Client,
        supplied: Option<String>,
        actor: &Actor,
    ) -> Result<(Client, Option<String>)> {
        let now = self.now();
        client.tenant_id = t.clone();
        client.id = ids::ulid();
        client.status = ClientStatus::Active;
        client.created_at = now;
        client.updated_at = now;
        client.deleted_at = None;
        client.secret_last_four = String::new();
        client.validate()?;
        self.check_sector_identifier(&client).await?;
        client.derive_cors_origins();
        if client.auth_methods.contains(&AuthMethod::ClientSecretJwt) {
            self.sealing_key()?;
        }
        if supplied.is_some() && !client.needs_secret() {
            return Err(ValidationError::new("client_secret", "this client does not authenticate with a secret").into());
        }
        let entry = audit(&client.client_id, actor, "create", vec!["hydra"], String::new(), now);
        self.insert_new(&mut client, supplied, entry, now).await
    }

    /// Replaces a client's settings with `next` (built by another API surface from the
    /// current client, so fields it does not know are carried over), and its secrets with
    /// `new_secret` if given. A client that needs a secret and has none gets a generated
    /// one. Returns the client and the secret, if one was set.
    pub async fn replace_client(
        &self,
        t: &TenantId,
        client_id: &str,
        mut next: Client,
        new_secret: Option<String>,
        actor: &Actor,
    ) -> Result<(Client, Option<String>)> {
        let current = self.get_client(t, client_id).await?;
        let now = self.now();
        next.id = current.id.clone();
        next.tenant_id = current.tenant_id.clone();
        next.client_id = current.client_id.clone();
        next.created_at = current.created_at;
        next.deleted_at = None;
        next.secret_last_four = current.secret_last_four.clone();
        next.updated_at = now;
        next.validate()?;
        self.check_sector_identifier(&next).await?;
        next.derive_cors_origins();
        self.check_secret_jwt_switch(t, &next, current.auth_methods.contains(&AuthMethod::ClientSecretJwt)).await?;
        if new_secret.is_some() && !next.needs_secret() {
            return Err(ValidationError::new("client_secret", "this client does not authenticate with a secret").into());
        }
        let entry = audit(client_id, actor, "update", next.changed_fields(&current), "hydra".into(), now);
        let result = self.store.update_client(&next, &entry).await;
        self.clients.invalidate(t, client_id);
        result?;
        let has_secret = self.store.client_secrets(t, client_id).await?.iter().any(|s| s.is_valid_at(now));
        let issued = match (next.needs_secret(), new_secret) {
            (true, Some(value)) => Some(self.replace_secrets(t, &next, Some(value), actor, now).await?),
            (true, None) if !has_secret => Some(self.replace_secrets(t, &next, None, actor, now).await?),
            _ => None,
        };
        Ok((self.get_client(t, client_id).await?, issued))
    }

    /// Makes `value` (or a generated secret) the client's only secret, at once.
    async fn replace_secrets(&self, t: &TenantId, client: &Client, value: Option<String>, actor: &Actor, now: i64) -> Result<String> {
        let (record, value) = self.make_secret(t, client, value.into(), "replaced".into(), None, now).await?;
        let entry = audit(&client.client_id, actor, "rotate_secret", vec!["client_secret"], "grace 0s".into(), now);
        let result = self.store.rotate_secret(t, &record, now, &entry).await;
        self.clients.invalidate(t, &client.client_id);
        result?;
        Ok(value)
    }

    /// Hydra's list: live clients after `after` in id order, at most `limit`, filtered by
    /// exact name and owner; and the total matching.
    pub async fn list_clients_after(
        &self,
        t: &TenantId,
        after: Option<&str>,
        limit: i64,
        name: Option<&str>,
        owner: Option<&str>,
    ) -> Result<Page<Client>> {
        let (items, total) = self.store.list_clients_after(t, after, limit, name, owner).await?;
        Ok(Page { items, total })
    }

    /// When the newest secret that still works stops working; 0 if it does not expire
    /// (or the client has none). Older secrets in a rotation's grace period end sooner.
    pub async fn secret_expires_at(&self, t: &TenantId, client_id: &str) -> clavis_store::Result<i64> {
        let now = self.now();
        Ok(secret_expiry(&self.store.client_secrets(t, client_id).await?, now))
    }

    pub async fn get_client(&self, t: &TenantId, client_id: &str) -> Result<Client> {
        self.store.get_client(t, client_id).await?.ok_or(ServiceError::NotFound("client"))
    }

    pub async fn list_clients(&self, t: &TenantId, filter: &ClientFilter, page: i64, page_size: i64) -> Result<Page<Client>> {
        let (items, total) = self.store.list_clients(t, filter, page_size, (page - 1) * page_size).await?;
        Ok(Page { items, total })
    }

    /// Applies the fields present in `input`; the others keep their values.
    pub async fn update_client(&self, t: &TenantId, client_id: &str, input: &ClientInput, actor: &Actor) -> Result<Client> {
        let mut client = self.get_client(t, client_id).await?;
        let now = self.now();
        let had_secret_jwt = client.auth_methods.contains(&AuthMethod::ClientSecretJwt);
        let changed = client.apply(input)?;
        self.check_secret_jwt_switch(t, &client, had_secret_jwt).await?;
        client.updated_at = now;
        let entry = audit(client_id, actor, "update", changed, String::new(), now);
        let result = self.store.update_client(&client, &entry).await;
        self.clients.invalidate(t, client_id);
        result?;
        self.get_client(t, client_id).await
    }

    pub async fn delete_client(&self, t: &TenantId, client_id: &str, actor: &Actor) -> Result<()> {
        let now = self.now();
        let entry = audit(client_id, actor, "delete", vec!["deleted_at"], String::new(), now);
        let result = self.store.delete_client(t, client_id, now, &entry).await;
        self.clients.invalidate(t, client_id);
        Ok(result?)
    }

    /// A new client with the source's settings, a new id, `client_id` and secret, and
    /// " (clone)" after its name. An admin makes it, so it is an admin's client: it has no
    /// registration access token (the source's registrant must not manage it) and is not
    /// self-registered; and it is no `introspector` until an admin marks it, since reading
    /// other clients' tokens is granted to a client, not to a configuration.
    pub async fn clone_client(&self, t: &TenantId, client_id: &str, actor: &Actor) -> Result<(Client, Option<String>)> {
        let source = self.get_client(t, client_id).await?;
        let now = self.now();
        let mut name: String = format!("{} (clone)", source.name);
        if name.chars().count() > 255 {
            let keep = 255 - " (clone)".len();
            name = format!("{} (clone)", source.name.chars().take(keep).collect::<String>());
        }
        let mut clone = Client {
            id: ids::ulid(),
            client_id: ids::new_client_id(),
            name,
            secret_last_four: String::new(),
            status: ClientStatus::Active,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            ..source
        };
        clone.extras.hydra.registration_token_hash = None;
        clone.extras.self_registered = false;
        clone.extras.introspector = false;
        clone.validate()?;
        let entry = audit(&clone.client_id, actor, "clone", vec![], format!("cloned from {client_id}"), now);
        self.insert_new(&mut clone, None, entry, now).await
    }

    /// Issues a new secret. The others keep verifying for `grace_secs` (default 4 h).
    pub async fn rotate_secret(&self, t: &TenantId, client_id: &str, grace_secs: Option<i64>, actor: &Actor) -> Result<(String, i64)> {
        let grace = grace_secs.unwrap_or(self.settings.rotation_grace_secs);
        if !(0..=MAX_GRACE_SECS).contains(&grace) {
            return Err(ValidationError::new("grace_period_seconds", format!("must be 0 to {MAX_GRACE_SECS}")).into());
        }
        let client = self.confidential_client(t, client_id).await?;
        let now = self.now();
        let (record, value) = self.make_secret(t, &client, NewSecret::Generated, "rotated".into(), None, now).await?;
        let entry = audit(client_id, actor, "rotate_secret", vec!["client_secret"], format!("grace {grace}s"), now);
        let result = self.store.rotate_secret(t, &record, now + grace, &entry).await;
        self.clients.invalidate(t, client_id);
        result?;
        Ok((value, now))
    }

    pub async fn list_secrets(&self, t: &TenantId, client_id: &str) -> Result<Vec<SecretRecord>> {
        self.get_client(t, client_id).await?;
        self.write_touches().await?;
        Ok(self.store.client_secrets(t, client_id).await?)
    }

    /// Adds a second active secret (for rolling a secret out before revoking the old one).
    pub async fn add_secret(
        &self,
        t: &TenantId,
        client_id: &str,
        description: Option<String>,
        expires_at: Option<i64>,
        actor: &Actor,
    ) -> Result<(SecretRecord, String)> {
        let description = description.unwrap_or_default();
        if description.chars().count() > 255 || description.chars().any(char::is_control) {
            return Err(ValidationError::new("description", "must be at most 255 printable characters").into());
        }
        let now = self.now();
        if expires_at.is_some_and(|e| e <= now) {
            return Err(ValidationError::new("expires_at", "must be in the future").into());
        }
        let client = self.confidential_client(t, client_id).await?;
        let (record, value) = self.make_secret(t, &client, NewSecret::Generated, description, expires_at, now).await?;
        let entry = audit(client_id, actor, "add_secret", vec!["client_secret"], record.secret_id.clone(), now);
        let result = self.store.add_secret(t, &record, MAX_ACTIVE_SECRETS, &entry).await;
        self.clients.invalidate(t, client_id);
        result.map_err(ServiceError::store("client"))?;
        Ok((record, value))
    }

    pub async fn delete_secret(&self, t: &TenantId, client_id: &str, secret_id: &str, actor: &Actor) -> Result<()> {
        self.get_client(t, client_id).await?;
        let now = self.now();
        let entry = audit(client_id, actor, "delete_secret", vec!["client_secret"], secret_id.to_owned(), now);
        let result = self.store.delete_secret(t, client_id, secret_id, now, &entry).await;
        self.clients.invalidate(t, client_id);
        match result {
            Err(clavis_store::StoreError::Refused(m)) => Err(ServiceError::Refused(m.to_owned())),
            other => other.map_err(ServiceError::store("secret")),
        }
    }

    pub async fn list_audit(&self, t: &TenantId, client_id: &str, page: i64, page_size: i64) -> Result<Page<AuditEntry>> {
        self.get_client(t, client_id).await?;
        let (items, total) = self.store.list_audit(t, client_id, page_size, (page - 1) * page_size).await?;
        Ok(Page { items, total })
    }

    async fn confidential_client(&self, t: &TenantId, client_id: &str) -> Result<Client> {
        let client = self.get_client(t, client_id).await?;
        if !client.is_confidential {
            return Err(ServiceError::Refused("a public client has no secrets".into()));
        }
        Ok(client)
    }

    /// Makes sure `client_id` exists in `t` as a confidential machine client with grant
    /// `client_credentials`, scope `admin`, and `secret` as its only secret. Used by the
    /// bootstrap settings; idempotent.
    pub async fn ensure_admin_client(&self, t: &TenantId, client_id: &str, secret_value: &str, actor: &Actor) -> Result<()> {
        self.ensure_tenant(t).await?;
        let now = self.now();
        match self.store.get_client(t, client_id).await? {
            None => {
                let mut client = admin_client(t, client_id.to_owned(), "Bootstrap admin client".into(), now)?;
                let (record, _) = self.make_secret(t, &client, NewSecret::Bootstrap(secret_value.to_owned()), "bootstrap".into(), None, now).await?;
                client.secret_last_four = record.last_four.clone();
                let entry = audit(client_id, actor, "create", vec!["bootstrap"], String::new(), now);
                match self.store.insert_client(&client, Some(&record), &entry).await {
                    // Another node bootstrapped it first: fine.
                    Err(clavis_store::StoreError::Conflict) => Ok(()),
                    other => Ok(other?),
                }
            }
            Some(mut client) => {
                let input = ClientInput {
                    grant_types: Some(union(&client.grant_types.iter().map(|g| g.as_str().to_owned()).collect::<Vec<_>>(), "client_credentials")),
                    scopes: Some(union(&client.scopes, "admin")),
                    status: Some("active".into()),
                    ..Default::default()
                };
                let changed = client.apply(&input)?;
                if !changed.is_empty() {
                    client.updated_at = now;
                    let entry = audit(client_id, actor, "update", changed, "bootstrap".into(), now);
                    self.store.update_client(&client, &entry).await?;
                }
                let secrets = self.store.client_secrets(t, client_id).await?;
                if !secrets.iter().any(|s| s.is_valid_at(now) && secret::verify(secret_value, &s.secret_hash)) {
                    let (record, _) =
                        self.make_secret(t, &client, NewSecret::Bootstrap(secret_value.to_owned()), "bootstrap".into(), None, now).await?;
                    let entry = audit(client_id, actor, "rotate_secret", vec!["client_secret"], "bootstrap, grace 0s".into(), now);
                    self.store.rotate_secret(t, &record, now, &entry).await?;
                }
                self.clients.invalidate(t, client_id);
                Ok(())
            }
        }
    }

    /// Creates a machine client with scope `admin` and a generated secret (CLI).
    pub async fn create_admin_client(&self, t: &TenantId, name: &str, actor: &Actor) -> Result<(Client, String)> {
        self.ensure_tenant(t).await?;
        let now = self.now();
        let mut client = admin_client(t, ids::new_client_id(), name.to_owned(), now)?;
        let entry = audit(&client.client_id, actor, "create", vec!["admin"], String::new(), now);
        let (client, secret) = self.insert_new(&mut client, None, entry, now).await?;
        Ok((client, secret.expect("an admin client uses a secret")))
    }
}

fn union(list: &[String], extra: &str) -> Vec<String> {
    let mut v = list.to_vec();
    if !v.iter().any(|s| s == extra) {
        v.push(extra.to_owned());
    }
    v
}

fn admin_client(t: &TenantId, client_id: String, name: String, now: i64) -> Result<Client> {
    let client = Client {
        id: ids::ulid(),
        name,
        scopes: vec!["admin".into()],
        grant_types: vec![GrantType::ClientCredentials],
        auth_methods: vec![AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost],
        created_at: now,
        updated_at: now,
        ..Client::blank(t.clone(), client_id)
    };
    client.validate()?;
    Ok(client)
}
