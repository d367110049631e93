//! A row of Ory Hydra's `hydra_client` table as an import line: the client in Hydra's API
//! format (what `hydra get client` shows) plus `hydra_secret_hashes`, the hashes Hydra
//! stored (`client_secret`, then `rotated_secrets`). The columns mostly carry the API's
//! names; where they differ: `id` is `client_id`, lists and JSON documents are JSON text,
//! booleans may be 0/1 (SQLite), lifespans are nanoseconds. Columns with no place in the
//! API (`nid`, `pk`, timestamps, the registration token's signature, the always-0
//! `client_secret_expires_at`) are left out.

use serde_json::{Map, Value};

/// Columns holding JSON as text (Hydra 2's `StringSliceJSONFormat`, `jwks`, `metadata`).
const JSON_COLUMNS: [&str; 11] = [
    "redirect_uris",
    "grant_types",
    "response_types",
    "audience",
    "allowed_cors_origins",
    "contacts",
    "request_uris",
    "post_logout_redirect_uris",
    "jwks",
    "metadata",
    "rotated_secrets",
];
const BOOL_COLUMNS: [&str; 4] =
    ["frontchannel_logout_session_required", "backchannel_logout_session_required", "skip_consent", "skip_logout_consent"];
const DB_ONLY_COLUMNS: [&str; 9] = [
    "nid",
    "pk",
    "pk_deprecated",
    "created_at",
    "updated_at",
    "registration_access_token_signature",
    "client_secret_expires_at",
    "password_grant_access_token_lifespan",
    "password_grant_refresh_token_lifespan",
];

/// The member of an import line that carries a Hydra client's secret hashes.
pub const SECRET_HASHES: &str = "hydra_secret_hashes";

/// The import line of a `hydra_client` row (a JSON object of its columns).
pub fn line_from_row(row: &str) -> Result<String, String> {
    let Value::Object(columns) = serde_json::from_str(row).map_err(|e| format!("not a JSON row: {e}"))? else {
        return Err("not a JSON row".into());
    };
    let mut line = Map::new();
    let mut hashes = Vec::new();
    for (name, value) in columns {
        if DB_ONLY_COLUMNS.contains(&name.as_str()) || value.is_null() {
            continue;
        }
        let value = if JSON_COLUMNS.contains(&name.as_str()) {
            from_json_text(&name, value)?
        } else if BOOL_COLUMNS.contains(&name.as_str()) {
            match value {
                Value::Number(n) => Value::Bool(n.as_i64() != Some(0)),
                v => v,
            }
        } else if name.ends_with("_lifespan") {
            let ns = value.as_i64().ok_or_else(|| format!("{name}: not a number of nanoseconds"))?;
            if ns <= 0 || ns % 1_000_000_000 != 0 {
                return Err(format!("{name}: {ns} ns is not a whole number of seconds"));
            }
            Value::String(clavis_core::duration::format_go(ns / 1_000_000_000))
        } else {
            value
        };
        match name.as_str() {
            "id" => _ = line.insert("client_id".into(), value),
            "client_secret" => hashes.insert(0, value),
            "rotated_secrets" => hashes.extend(value.as_array().cloned().unwrap_or_default()),
            _ => _ = line.insert(name, value),
        }
    }
    let hashes: Vec<Value> = hashes.into_iter().filter(|h| h.as_str().is_some_and(|s| !s.is_empty())).collect();
    line.insert(SECRET_HASHES.into(), Value::Array(hashes));
    Ok(Value::Object(line).to_string())
}

/// A column of JSON text, parsed; empty text is absent. Hydra 1 kept lists `|`-separated.
fn from_json_text(name: &str, value: Value) -> Result<Value, String> {
    let Value::String(text) = value else { return Ok(value) };
    if text.is_empty() {
        return Ok(Value::Null);
    }
    match serde_json::from_str(&text) {
        Ok(v) => Ok(v),
        Err(_) if !matches!(name, "jwks" | "metadata") => Ok(Value::Array(text.split('|').map(|s| Value::String(s.to_owned())).collect())),
        Err(e) => Err(format!("{name}: not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_row_becomes_a_hydra_line_with_its_hashes() {
        let row = r#"{"id":"app","nid":"2f0c","client_name":"App","client_secret":"$2a$10$abc",
            "rotated_secrets":"[\"$2a$10$old\"]","redirect_uris":"[\"https://app.example/cb\"]",
            "grant_types":"[\"authorization_code\",\"refresh_token\"]","response_types":"[\"code\"]",
            "scope":"openid offline","audience":"[]","jwks":"{}","metadata":"{\"tier\":\"gold\"}",
            "skip_consent":false,"created_at":"2024-01-01T00:00:00","client_secret_expires_at":0,
            "authorization_code_grant_access_token_lifespan":3600000000000,
            "refresh_token_grant_id_token_lifespan":null,"token_endpoint_auth_method":"client_secret_basic"}"#;
        let line: Value = serde_json::from_str(&line_from_row(row).unwrap()).unwrap();
        assert_eq!(line["client_id"], "app");
        assert_eq!(line["redirect_uris"][0], "https://app.example/cb");
        assert_eq!(line["grant_types"][1], "refresh_token");
        assert_eq!(line["metadata"]["tier"], "gold");
        assert_eq!(line["authorization_code_grant_access_token_lifespan"], "1h0m0s");
        assert_eq!(line[SECRET_HASHES], serde_json::json!(["$2a$10$abc", "$2a$10$old"]));
        for gone in
            ["id", "nid", "client_secret", "rotated_secrets", "created_at", "client_secret_expires_at", "refresh_token_grant_id_token_lifespan"]
        {
            assert!(line.get(gone).is_none(), "{gone}");
        }
    }

    #[test]
    fn sqlite_rows_and_hydra_1_lists_are_read_too() {
        let row = r#"{"id":"cli","client_secret":"","redirect_uris":"https://a/cb|https://b/cb","skip_consent":1,"rotated_secrets":""}"#;
        let line: Value = serde_json::from_str(&line_from_row(row).unwrap()).unwrap();
        assert_eq!(line["redirect_uris"], serde_json::json!(["https://a/cb", "https://b/cb"]));
        assert_eq!(line["skip_consent"], true);
        assert_eq!(line[SECRET_HASHES], serde_json::json!([]));
        assert!(line_from_row(r#"{"id":"x","jwks":"{not json"}"#).unwrap_err().starts_with("jwks"));
        assert!(line_from_row(r#"{"id":"x","jwt_bearer_grant_access_token_lifespan":1500000000}"#).is_err());
        assert!(line_from_row("[1]").is_err());
    }
}
