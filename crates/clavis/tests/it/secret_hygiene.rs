//! A secret is shown once, by the response that created it, and nowhere else: not in
//! later responses, not in error bodies, not in the logs, not in the database.

use crate::common;

use clavis_core::TenantId;
use common::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn secrets_appear_only_in_the_response_that_created_them() {
    let app = TestApp::spawn().await;
    let mut secrets: Vec<String> = vec![common::ADMIN_SECRET.to_owned()];
    let (id, first) = app.machine_client().await;
    secrets.push(first.clone());
    let base = format!("/admin/oauth/clients/{id}");
    let (_, r) = app.admin(Method::POST, &format!("{base}/rotate-secret"), None).await;
    secrets.push(r["data"]["new_secret"].as_str().unwrap().to_owned());
    let (_, r) = app.admin(Method::POST, &format!("{base}/secrets"), Some(json!({"description": "second"}))).await;
    secrets.push(r["data"]["secret_value"].as_str().unwrap().to_owned());
    let (_, r) = app.admin(Method::POST, &format!("{base}/clone"), None).await;
    let clone_id = r["data"]["client_id"].as_str().unwrap().to_owned();
    secrets.push(r["data"]["client_secret"].as_str().unwrap().to_owned());
    let token = app.token_ok("", &id, &first, None).await["access_token"].as_str().unwrap().to_owned();

    // Every read, and errors that echo input, say nothing of any secret.
    let mut bodies = Vec::new();
    for path in [
        "/admin/oauth/clients".to_owned(),
        base.clone(),
        format!("{base}/secrets"),
        format!("{base}/audit"),
        format!("/admin/oauth/clients/{clone_id}"),
        format!("/admin/oauth/clients/{clone_id}/audit"),
    ] {
        bodies.push(app.admin(Method::GET, &path, None).await.1.to_string());
    }
    bodies.push(app.admin(Method::PUT, &base, Some(json!({"name": first.clone(), "website": first.clone()}))).await.1.to_string());
    for s in &secrets {
        bodies.push(app.token("", &id, &format!("{s}x"), None).await.1.to_string());
        bodies.push(app.token("", s, s, None).await.1.to_string());
    }
    for body in &bodies {
        for s in &secrets {
            assert!(!body.contains(s.as_str()), "secret leaked in {body}");
        }
    }

    // At rest only hashes.
    let t = TenantId::default_tenant();
    for record in app.server.as_ref().unwrap().services.list_secrets(&t, &id).await.unwrap() {
        assert!(record.secret_hash.starts_with("sha256$"));
        for s in &secrets {
            assert!(!record.secret_hash.contains(s.as_str()));
        }
    }

    // Nor in the logs (captured at debug level for the whole test), nor the token.
    let logs = common::logs();
    assert!(logs.contains("clavis listening"), "logs were captured");
    for s in secrets.iter().chain([&token]) {
        assert!(!logs.contains(s.as_str()), "secret or token in the logs");
    }
}
