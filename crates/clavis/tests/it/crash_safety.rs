//! Kill -9 under a write load, restart, and check that every acknowledged write is there
//! and the database is consistent: a 2xx means committed.

use crate::common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{serve, Serve, Workspace};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN: &str = "crash-admin";
const ADMIN_SECRET: &str = "crash-admin-secret-0123456789abcdefgh";
/// Acknowledged operations before the kill.
const KILL_AFTER: usize = 120;

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CLAVIS_BOOTSTRAP_CLIENT_ID", ADMIN),
        ("CLAVIS_BOOTSTRAP_CLIENT_SECRET", ADMIN_SECRET),
        ("CLAVIS_PUBLIC_URL", "http://clavis.test"),
        ("CLAVIS_LOGIN_URL", "https://login.example/login"),
        ("CLAVIS_CONSENT_URL", "https://login.example/consent"),
        ("CLAVIS_LOG", "warn,clavis=info,clavis::access=warn"),
    ]
}

async fn admin_token(node: &Serve) -> String {
    let v: Value = common::client_credentials(&format!("{}/oauth2/token", node.public), ADMIN, ADMIN_SECRET, "").await.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// One authorization code flow (the test plays browser and login app); returns a
/// refresh token.
async fn refresh_family(node: &Serve, token: &str, id: &str, secret: &str) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let via = |url: &str| url.replace("http://clavis.test", &node.public);
    let param = |url: &str, k: &str| url::Url::parse(url).unwrap().query_pairs().find(|(n, _)| n == k).unwrap().1.into_owned();
    let verifier = clavis_core::ids::random_token(32);
    let start = format!(
        "{}/oauth2/auth?response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb\
        &scope=offline_access&state=crash-state-1&code_challenge={}&code_challenge_method=S256",
        node.public,
        clavis_core::jose::pkce_s256(&verifier)
    );
    let resp = http.get(&start).send().await.unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    // The flow's browser binding, which the verifiers need.
    let binding = common::set_cookie(&resp);
    let accept = |kind: &str, challenge: String, body: Value| {
        http.put(format!("{}/admin/oauth2/auth/requests/{kind}/accept?{kind}_challenge={challenge}", node.admin))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let r: Value = accept("login", param(&loc, "login_challenge"), json!({"subject": "u"})).await.unwrap().json().await.unwrap();
    let back = |url: &str| http.get(via(url)).header("cookie", &binding).send();
    let loc = back(r["redirect_to"].as_str().unwrap()).await.unwrap().headers()["location"].to_str().unwrap().to_owned();
    let r: Value =
        accept("consent", param(&loc, "consent_challenge"), json!({"grant_scope": ["offline_access"]})).await.unwrap().json().await.unwrap();
    let loc = back(r["redirect_to"].as_str().unwrap()).await.unwrap().headers()["location"].to_str().unwrap().to_owned();
    let t: Value = http
        .post(format!("{}/oauth2/token", node.public))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", param(&loc, "code").as_str()),
            ("redirect_uri", "https://app.example.com/cb"),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["refresh_token"].as_str().unwrap().to_owned()
}

/// What the load had acknowledged, and what was in flight when the server died.
#[derive(Default)]
struct Ledger {
    created: Vec<String>,
    /// client_id → (acknowledged name, name in flight)
    names: HashMap<String, (String, Option<String>)>,
    /// family → (acknowledged refresh token, a refresh in flight)
    families: HashMap<usize, (String, bool)>,
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let ws = Workspace::new().await;
    let mut node = serve(&ws, &env());
    let token = admin_token(&node).await;
    let http = reqwest::Client::new();
    let web: Value = http
        .post(format!("{}/admin/oauth/clients", node.admin))
        .bearer_auth(&token)
        .json(&json!({"name": "web", "redirect_uris": ["https://app.example.com/cb"],
                      "grant_types": ["authorization_code", "refresh_token"], "scopes": ["offline_access"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (web_id, web_secret) = (web["data"]["client_id"].as_str().unwrap().to_owned(), web["data"]["client_secret"].as_str().unwrap().to_owned());
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    for f in 0..3 {
        let rt = refresh_family(&node, &token, &web_id, &web_secret).await;
        ledger.lock().unwrap().families.insert(f, (rt, false));
    }

    let acks = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let ack = {
        let (acks, enough) = (acks.clone(), enough.clone());
        move || {
            if acks.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                enough.notify_one();
            }
        }
    };
    let mut tasks = Vec::new();
    // Writers: each creates clients and renames each one twice, one request at a time.
    for w in 0..3 {
        let (http, ledger, ack, admin, token) = (http.clone(), ledger.clone(), ack.clone(), node.admin.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("w{w}-{i}");
                let Ok(resp) = http
                    .post(format!("{admin}/admin/oauth/clients"))
                    .bearer_auth(&token)
                    .json(&json!({"name": name, "redirect_uris": ["https://a.example/cb"]}))
                    .send()
                    .await
                else {
                    return;
                };
                if resp.status() != StatusCode::CREATED {
                    return;
                }
                let Ok(v) = resp.json::<Value>().await else { return };
                let id = v["data"]["client_id"].as_str().unwrap().to_owned();
                ledger.lock().unwrap().created.push(id.clone());
                ledger.lock().unwrap().names.insert(id.clone(), (name, None));
                ack();
                for round in 0..2 {
                    let next = format!("w{w}-{i}-r{round}");
                    ledger.lock().unwrap().names.get_mut(&id).unwrap().1 = Some(next.clone());
                    let ok = match http.put(format!("{admin}/admin/oauth/clients/{id}")).bearer_auth(&token).json(&json!({"name": next})).send().await
                    {
                        Ok(r) => r.status() == StatusCode::OK,
                        Err(_) => false,
                    };
                    if !ok {
                        return;
                    }
                    *ledger.lock().unwrap().names.get_mut(&id).unwrap() = (next, None);
                    ack();
                }
            }
        }));
    }
    // Refreshers: each family rotates its refresh token, one request at a time.
    for f in 0..3 {
        let (http, ledger, ack, public) = (http.clone(), ledger.clone(), ack.clone(), node.public.clone());
        let (id, secret) = (web_id.clone(), web_secret.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let current = {
                    let mut l = ledger.lock().unwrap();
                    let fam = l.families.get_mut(&f).unwrap();
                    fam.1 = true;
                    fam.0.clone()
                };
                let Ok(resp) = http
                    .post(format!("{public}/oauth2/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", current.as_str())])
                    .send()
                    .await
                else {
                    return;
                };
                if resp.status() != StatusCode::OK {
                    return;
                }
                let Ok(v) = resp.json::<Value>().await else { return };
                *ledger.lock().unwrap().families.get_mut(&f).unwrap() = (v["refresh_token"].as_str().unwrap().to_owned(), false);
                ack();
            }
        }));
    }

    enough.notified().await;
    node.child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
    node.child.wait().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    assert!(acks.load(Ordering::SeqCst) >= KILL_AFTER);

    let node = serve(&ws, &env());
    let token = admin_token(&node).await;
    // Every task has ended: take the ledger out of its lock.
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(!ledger.created.is_empty());
    for id in &ledger.created {
        let resp = http.get(format!("{}/admin/oauth/clients/{id}", node.admin)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "acknowledged client {id} lost");
        let v: Value = resp.json().await.unwrap();
        let (acked, in_flight) = &ledger.names[id];
        let name = v["data"]["name"].as_str().unwrap();
        assert!(name == acked || Some(name) == in_flight.as_deref(), "{id}: name {name:?}, acknowledged {acked:?}");
    }
    for (f, (rt, in_flight)) in &ledger.families {
        let resp = http
            .post(format!("{}/oauth2/token", node.public))
            .basic_auth(&web_id, Some(&web_secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
            .send()
            .await
            .unwrap();
        // If a refresh was in flight, it may have committed (spending this token) unseen.
        assert!(resp.status() == StatusCode::OK || *in_flight, "family {f}: acknowledged refresh token lost ({})", resp.status());
    }
    let issues = node_integrity(&ws).await;
    assert!(issues.is_empty(), "database inconsistent: {issues:?}");
}

async fn node_integrity(ws: &Workspace) -> Vec<String> {
    let url = if ws.is_sqlite() { format!("sqlite://{}", ws.dir.join("clavis-data/clavis.db").display()) } else { ws.database_url.clone() };
    let store = clavis_service::Store::connect(&url).await.unwrap();
    let issues = store.check_integrity().await.unwrap();
    store.close().await;
    issues
}
