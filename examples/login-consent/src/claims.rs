//! Which of a user's claims go into the consent session (and so into ID tokens and
//! userinfo): the claims of the granted standard scopes (OpenID Connect Core §5.4), and the
//! individual claims the relying party asked for with the `claims` request parameter
//! (§5.5, shown by Clavis as `oidc_context.claims`) — in both cases only with `openid`
//! granted and only the claims the user record has.

use serde_json::{Map, Value};

use crate::users::User;

/// The claims each standard scope stands for (§5.4).
pub const SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// Whether `name` is a standard claim a user record may hold.
pub fn is_standard(name: &str) -> bool {
    SCOPE_CLAIMS.iter().any(|(_, claims)| claims.contains(&name))
}

/// Every claim the user record has: `email`, `name`, `preferred_username` (the username)
/// and the further standard claims of its `claims` table.
fn user_claims(u: &User) -> Map<String, Value> {
    let mut all = u.claims.clone();
    if let Some(email) = &u.email {
        all.insert("email".into(), email.as_str().into());
    }
    if let Some(name) = &u.name {
        all.insert("name".into(), name.as_str().into());
    }
    all.insert("preferred_username".into(), u.username.as_str().into());
    all
}

/// The names a `claims` request parameter asks for, in `userinfo` or `id_token`.
fn requested(claims_param: &Value) -> Vec<&str> {
    ["userinfo", "id_token"].iter().filter_map(|m| claims_param.get(m)?.as_object()).flat_map(|o| o.keys().map(String::as_str)).collect()
}

/// The consent session's ID token claims for `user` with `granted` scopes.
pub fn for_consent(user: Option<&User>, granted: &[String], claims_param: &Value) -> Value {
    let mut out = Map::new();
    let Some(u) = user.filter(|_| granted.iter().any(|g| g == "openid")) else { return Value::Object(out) };
    let available = user_claims(u);
    let by_scope = SCOPE_CLAIMS.iter().filter(|(scope, _)| granted.iter().any(|g| g == scope)).flat_map(|(_, c)| c.iter().copied());
    for name in by_scope.chain(requested(claims_param)) {
        if let Some(v) = available.get(name) {
            out.insert(name.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alice() -> User {
        User {
            username: "alice".into(),
            password_hash: String::new(),
            email: Some("alice@example.com".into()),
            name: Some("Alice".into()),
            claims: json!({"email_verified": true, "phone_number": "+1 555 0100", "address": {"locality": "Oxford", "country": "UK"},
                           "locale": "en-GB"})
            .as_object()
            .unwrap()
            .clone(),
        }
    }

    fn granted(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn scopes_map_to_their_claims() {
        let c = for_consent(Some(&alice()), &granted("openid address phone"), &Value::Null);
        assert_eq!(c, json!({"address": {"locality": "Oxford", "country": "UK"}, "phone_number": "+1 555 0100"}));
        let c = for_consent(Some(&alice()), &granted("openid email profile"), &Value::Null);
        assert_eq!(
            c,
            json!({"email": "alice@example.com", "email_verified": true, "name": "Alice", "preferred_username": "alice", "locale": "en-GB"})
        );
        assert_eq!(for_consent(Some(&alice()), &granted("email address"), &Value::Null), json!({}), "no openid, no claims");
    }

    #[test]
    fn the_claims_parameter_adds_single_claims() {
        let param = json!({"userinfo": {"phone_number": {"essential": true}}, "id_token": {"email": null, "nickname": null}});
        let c = for_consent(Some(&alice()), &granted("openid"), &param);
        assert_eq!(c, json!({"phone_number": "+1 555 0100", "email": "alice@example.com"}), "only what the user has");
    }
}
