//! Method `none` (RFC 6749 §2.3, OpenID Connect Core §9): a public client sends its id
//! alone. It is identified, not authenticated; PKCE protects its codes.

use clavis_core::{AuthMethod, TenantId};

use crate::{ClientRef, OAuthError, Services};

impl Services {
    pub(super) async fn identify_public(&self, t: &TenantId, client_id: &str) -> Result<ClientRef, OAuthError> {
        Ok(ClientRef(self.client_for_method(t, client_id, AuthMethod::None, "").await?))
    }
}
