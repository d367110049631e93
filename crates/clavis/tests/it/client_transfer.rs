//! `clavis client export` and `clavis client import`, as processes against real databases:
//! a tenant's clients move to another server with their secrets (as hashes) and keep
//! working; an import is idempotent; Hydra-format lines are built by Hydra's rules; bad
//! lines are reported by number and fail the exit code, never the whole import.

use std::process::Output;

use crate::common;

use common::{serve, Workspace};
use serde_json::{json, Value};

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// An admin token of tenant `acme` of the server (an offline admin client).
async fn admin_token(ws: &Workspace, server: &common::Serve) -> String {
    let out = ok(ws.clavis(&["client", "create", "--tenant", "acme", "--admin"]).output().unwrap());
    let get = |k: &str| out.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap().to_owned();
    let url = format!("{}/t/acme/oauth2/token", server.public);
    let t: Value = common::client_credentials(&url, &get("client_id"), &get("client_secret"), "admin").await.json().await.unwrap();
    t["access_token"].as_str().unwrap().to_owned()
}

async fn token_status(server: &common::Serve, id: &str, secret: &str) -> u16 {
    common::client_credentials(&format!("{}/t/acme/oauth2/token", server.public), id, secret, "").await.status().as_u16()
}

async fn list(server: &common::Serve, admin: &str) -> Value {
    let url = format!("{}/admin/oauth/clients?page_size=100", server.admin);
    let v: Value = reqwest::Client::new().get(url).bearer_auth(admin).header("X-Tenant-ID", "acme").send().await.unwrap().json().await.unwrap();
    assert!(v["data"]["items"].is_array(), "{v}");
    v["data"].clone()
}

#[tokio::test]
async fn clients_move_to_another_server_with_their_secrets_and_an_import_is_idempotent() {
    let source = Workspace::new().await;
    ok(source.clavis(&["tenant", "create", "acme"]).output().unwrap());
    let server = serve(&source, &[]);
    let admin = admin_token(&source, &server).await;
    let http = reqwest::Client::new();
    let create = |body: Value| {
        let req = http.post(format!("{}/admin/oauth/clients", server.admin)).bearer_auth(&admin).header("X-Tenant-ID", "acme");
        async move {
            let resp = req.json(&body).send().await.unwrap();
            assert_eq!(resp.status(), 201);
            resp.json::<Value>().await.unwrap()["data"].clone()
        }
    };
    let machine = create(json!({"name": "Billing worker", "grant_types": ["client_credentials"], "scopes": ["read"],
        "redirect_uris": ["https://billing.example.com/cb"], "is_confidential": true}))
    .await;
    let (machine_id, machine_secret) = (machine["client_id"].as_str().unwrap(), machine["client_secret"].as_str().unwrap());
    let paused = create(json!({"name": "Paused worker", "grant_types": ["client_credentials"], "scopes": ["read"],
        "redirect_uris": ["https://paused.example.com/cb"], "is_confidential": true}))
    .await;
    let (paused_id, paused_secret) = (paused["client_id"].as_str().unwrap(), paused["client_secret"].as_str().unwrap());
    let resp = http
        .put(format!("{}/admin/oauth/clients/{paused_id}", server.admin))
        .bearer_auth(&admin)
        .header("X-Tenant-ID", "acme")
        .json(&json!({"status": "suspended"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    create(json!({"name": "Mobile app", "grant_types": ["authorization_code"], "redirect_uris": ["https://m.example.com/cb"],
        "is_confidential": false}))
    .await;
    assert_eq!(token_status(&server, machine_id, machine_secret).await, 200);
    assert_eq!(token_status(&server, paused_id, paused_secret).await, 401, "suspended");
    let listed_before = list(&server, &admin).await;

    let file = source.dir.join("clients.jsonl");
    ok(source.clavis(&["client", "export", "--tenant", "acme", "--output", file.to_str().unwrap()]).output().unwrap());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(machine_secret) && !text.contains(paused_secret), "no plaintext secret is exported");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4, "the admin client and the three");
    let m = lines.iter().find(|l| l["client_id"] == machine_id).unwrap();
    assert_eq!(m["client_name"], "Billing worker", "Hydra's field names");
    assert_eq!(m["grant_types"], json!(["client_credentials"]));
    assert!(m["clavis"]["secrets"][0]["secret_hash"].as_str().unwrap().starts_with("sha256$"));
    drop(server);

    let target = Workspace::new().await;
    ok(target.clavis(&["migrate"]).output().unwrap());
    let out = target.clavis(&["client", "import", "--tenant", "acme", file.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success(), "no tenant acme yet");
    ok(target.clavis(&["tenant", "create", "acme"]).output().unwrap());
    let summary = ok(target.clavis(&["client", "import", "--tenant", "acme", file.to_str().unwrap()]).output().unwrap());
    assert!(summary.contains("4 lines: 4 created, 0 updated, 0 unchanged"), "{summary}");
    let again = ok(target.clavis(&["client", "import", "--tenant", "acme", file.to_str().unwrap()]).output().unwrap());
    assert!(again.contains("4 lines: 0 created, 0 updated, 4 unchanged"), "{again}");

    let server = serve(&target, &[]);
    assert_eq!(token_status(&server, machine_id, machine_secret).await, 200, "the secret came along as its hash");
    assert_eq!(token_status(&server, machine_id, "wrong-secret").await, 401);
    assert_eq!(token_status(&server, paused_id, paused_secret).await, 401, "still suspended");
    let admin = admin_token(&target, &server).await;
    let listed_after = list(&server, &admin).await;
    // The target has one more admin client (made above, newest): the rest is the same list.
    assert_eq!(listed_after["total"].as_i64().unwrap(), listed_before["total"].as_i64().unwrap() + 1);
    let ids = |v: &Value| v["items"].as_array().unwrap().iter().map(|c| c["client_id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&listed_after)[1..], ids(&listed_before)[..], "same clients, same order");
}

#[tokio::test]
async fn hydra_lines_are_built_by_hydras_rules_and_bad_lines_are_reported_by_number() {
    let ws = Workspace::new().await;
    ok(ws.clavis(&["tenant", "create", "acme"]).output().unwrap());
    let file = ws.dir.join("hydra.jsonl");
    let lines = [
        json!({"client_id": "from-hydra", "client_name": "From Hydra", "grant_types": ["client_credentials"], "scope": "read write",
               "token_endpoint_auth_method": "client_secret_post", "owner": "team-a", "metadata": {"tier": "gold"}})
        .to_string(),
        "not json".to_owned(),
        json!({"client_name": "no id"}).to_string(),
        json!({"client_id": "with-secret", "client_secret": "plaintext-secret-value"}).to_string(),
        json!({"client_id": "bad-grant", "grant_types": ["password"]}).to_string(),
        String::new(),
        json!({"client_id": "public-spa", "token_endpoint_auth_method": "none", "redirect_uris": ["https://spa.example.com/cb"]}).to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = ws.clavis(&["client", "import", "--tenant", "acme", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "some lines were refused");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("6 lines: 2 created, 0 updated, 0 unchanged, 0 deleted earlier, 4 refused"), "{stdout}");
    for n in [2, 3, 4, 5] {
        assert!(stderr.contains(&format!("line {n}: refused")), "line {n}: {stderr}");
    }
    assert!(!stderr.contains("plaintext-secret-value"), "a refused secret is not echoed");

    // What the import made is what Hydra's API makes of the same body.
    let server = serve(&ws, &[]);
    let admin = admin_token(&ws, &server).await;
    let c: Value = reqwest::Client::new()
        .get(format!("{}/admin/clients/from-hydra", server.admin))
        .bearer_auth(&admin)
        .header("X-Tenant-ID", "acme")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((c["scope"].as_str(), c["owner"].as_str(), c["metadata"]["tier"].as_str()), (Some("read write"), Some("team-a"), Some("gold")), "{c}");
    assert_eq!(c["token_endpoint_auth_method"], "client_secret_post");
    drop(server);

    // The same Hydra line again changes nothing; a changed one updates the client in place.
    std::fs::write(&file, &lines[0]).unwrap();
    let again = ok(ws.clavis(&["client", "import", "--tenant", "acme", file.to_str().unwrap()]).output().unwrap());
    assert!(again.contains("1 lines: 0 created, 0 updated, 1 unchanged"), "{again}");
    let renamed = lines[0].replace("From Hydra", "Renamed in Hydra");
    std::fs::write(&file, format!("{renamed}\n{renamed}\n")).unwrap();
    let out = ok(ws.clavis(&["client", "import", "--tenant", "acme", file.to_str().unwrap()]).output().unwrap());
    assert!(out.contains("2 lines: 0 created, 1 updated, 1 unchanged"), "a client named twice is applied in order: {out}");
}
