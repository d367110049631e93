//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592): a
//! registered client gets a registration access token (stored hashed) that alone lets it
//! read, replace or delete its own registration.

use clavis_core::{ids, secret, Client, TenantId};

use crate::{Actor, ServiceError, Services};

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
