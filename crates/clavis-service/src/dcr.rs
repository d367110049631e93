//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592): a
//! registered client gets a registration access token (stored hashed) that alone lets it
//! read, replace or delete its own registration. Clients use Hydra's field names (the
//! same builder as `/admin/clients`, [`crate::hydra_client::build`]), minus what only an
//! admin may set.

use clavis_core::{ids, secret, Client, TenantId};
use serde_json::{Map, Value};

use crate::hydra_client::{build, ClientMetadataError};
use crate::{Actor, ServiceError, Services};

/// Fields only an admin may set; a registration carrying them is refused.
const PRIVILEGED: &[&str] =
    &["metadata", "skip_consent", "skip_logout_consent", "owner", "access_token_strategy", "client_secret", "client_id", "introspector"];

/// Fields of the registration's own view that an update body may repeat; they are ignored.
const SERVER_MANAGED: &[&str] = &["registration_access_token", "registration_client_uri", "client_secret_expires_at", "created_at", "updated_at"];

/// The metadata a client may register for itself.
fn check_unprivileged(body: &Map<String, Value>) -> std::result::Result<(), ClientMetadataError> {
    let refused = |k: &str| ClientMetadataError::Metadata(format!("{k} cannot be set by dynamic registration"));
    if let Some(k) = PRIVILEGED.iter().find(|k| body.get(**k).is_some_and(|v| !v.is_null())) {
        return Err(refused(k));
    }
    if let Some(k) = body.keys().find(|k| k.ends_with("_lifespan")) {
        return Err(refused(k));
    }
    let scope = body.get("scope").and_then(Value::as_str).unwrap_or("");
    if scope.split(' ').any(|s| s == "admin") {
        return Err(ClientMetadataError::Metadata("scope admin cannot be registered".into()));
    }
    Ok(())
}

/// The client a registration body (RFC 7591) asks for, before the tenant's policy is
/// applied by [`Services::register_client`].
pub fn registration_from_body(body: &Map<String, Value>, t: &TenantId) -> std::result::Result<Client, ClientMetadataError> {
    check_unprivileged(body)?;
    let (client, _) = build(body, None, t)?;
    Ok(client)
}

/// The client an update body (RFC 7592 §2.2) makes of `current`, before the tenant's
/// policy is applied by [`Services::update_registration`]. What only an admin may set
/// stays as it was.
pub fn registration_update_from_body(mut body: Map<String, Value>, current: &Client) -> std::result::Result<Client, ClientMetadataError> {
    // The body repeats client_id; the rest is new metadata.
    if body.remove("client_id").and_then(|v| v.as_str().map(str::to_owned)).is_some_and(|b| b != current.client_id) {
        return Err(ClientMetadataError::Metadata("client_id cannot be changed".into()));
    }
    for k in SERVER_MANAGED {
        body.remove(*k);
    }
    check_unprivileged(&body)?;
    let (mut next, _) = build(&body, Some(current), &current.tenant_id)?;
    next.owner = current.owner.clone();
    next.extras.lifespans = current.extras.lifespans.clone();
    next.extras.access_token_strategy = current.extras.access_token_strategy;
    next.extras.hydra.metadata = current.extras.hydra.metadata.clone();
    next.extras.hydra.skip_consent = current.extras.hydra.skip_consent;
    next.extras.hydra.skip_logout_consent = current.extras.hydra.skip_logout_consent;
    Ok(next)
}

type Result<T> = std::result::Result<T, ServiceError>;

/// Why a registration-token request was refused: always the same answer, so nobody can
/// learn which client ids exist.
const REFUSED: &str = "invalid registration access token";

impl Services {
    /// Registers `client` if the tenant's registration policy allows what it asks for;
    /// returns it, its secret (if it uses one) and its registration access token — both
    /// shown only now.
    pub async fn register_client(&self, t: &TenantId, mut client: Client) -> Result<(Client, Option<String>, String)> {
        self.dcr_policy(t).await?.check(&client)?;
        let token = ids::random_token(32);
        client.extras.hydra.registration_token_hash = Some(secret::hash(&token));
        client.extras.self_registered = true;
        client.extras.introspector = false;
        let (client, secret) = self.create_built_client(t, client, None, &Actor("dcr".into())).await?;
        Ok((client, secret, token))
    }

    /// The client a registration access token manages, if it is that client's token.
    pub async fn registered_client(&self, t: &TenantId, client_id: &str, token: &str) -> Result<Client> {
        let refused = || ServiceError::Refused(REFUSED.into());
        if !ids::is_plausible_id(client_id) {
            return Err(refused());
        }
        let client = self.store.get_client(t, client_id).await?.ok_or_else(refused)?;
        let stored = client.extras.hydra.registration_token_hash.as_deref().ok_or_else(refused)?;
        if !secret::verify(token, stored) {
            return Err(refused());
        }
        Ok(client)
    }

    /// Replaces a registration (the caller built `next` from the current client), within
    /// the tenant's registration policy as it is now: narrowing the policy does not touch
    /// existing clients, but their next update must fit it.
    pub async fn update_registration(&self, t: &TenantId, client_id: &str, mut next: Client) -> Result<Client> {
        self.dcr_policy(t).await?.check(&next)?;
        let current = self.get_client(t, client_id).await?;
        // Credentials and marks are the server's and the admins', not the registrant's.
        next.extras.hydra.registration_token_hash = current.extras.hydra.registration_token_hash.clone();
        next.extras.self_registered = current.extras.self_registered;
        next.extras.introspector = current.extras.introspector;
        let (client, _) = self.replace_client(t, client_id, next, None, &Actor("dcr".into())).await?;
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::hydra_client::tests::body;

    #[test]
    fn a_registration_may_not_set_what_only_an_admin_may() {
        let t = TenantId::default_tenant();
        for k in PRIVILEGED {
            let e = registration_from_body(&body(json!({ *k: "x" })), &t).unwrap_err();
            assert_eq!(e, ClientMetadataError::Metadata(format!("{k} cannot be set by dynamic registration")));
        }
        let e = registration_from_body(&body(json!({"client_credentials_grant_access_token_lifespan": "1h"})), &t).unwrap_err();
        assert!(e.to_string().contains("_lifespan cannot be set"), "{e}");
        let e = registration_from_body(&body(json!({"scope": "openid admin"})), &t).unwrap_err();
        assert_eq!(e, ClientMetadataError::Metadata("scope admin cannot be registered".into()));
        let c = registration_from_body(&body(json!({"owner": null, "client_name": "Mine", "scope": "openid administrator"})), &t).unwrap();
        assert_eq!((c.name.as_str(), c.scopes.join(" ")), ("Mine", "openid administrator".to_owned()), "null is absent; admin only as a whole token");
        let e = registration_from_body(&body(json!({"redirect_uris": ["not a url"]})), &t).unwrap_err();
        assert!(matches!(e, ClientMetadataError::Field { ref field, .. } if field.contains("redirect_uri")), "{e:?}");
    }

    #[test]
    fn an_update_keeps_what_only_an_admin_may_set() {
        let t = TenantId::default_tenant();
        let mut current = registration_from_body(&body(json!({"client_name": "Mine"})), &t).unwrap();
        current.owner = "ops".into();
        current.extras.hydra.skip_consent = true;
        current.extras.hydra.metadata = json!({"k": 1});
        let id = current.client_id.clone();
        let managed =
            json!({"client_id": id, "client_name": "Renamed", "registration_access_token": "x", "created_at": "then", "client_secret_expires_at": 0});
        let next = registration_update_from_body(body(managed), &current).unwrap();
        assert_eq!((next.name.as_str(), next.owner.as_str()), ("Renamed", "ops"));
        assert!(next.extras.hydra.skip_consent);
        assert_eq!(next.extras.hydra.metadata, json!({"k": 1}));
        let e = registration_update_from_body(body(json!({"client_id": "someone-else"})), &current).unwrap_err();
        assert_eq!(e, ClientMetadataError::Metadata("client_id cannot be changed".into()));
        let e = registration_update_from_body(body(json!({"skip_consent": true})), &current).unwrap_err();
        assert_eq!(e, ClientMetadataError::Metadata("skip_consent cannot be set by dynamic registration".into()));
    }
}
