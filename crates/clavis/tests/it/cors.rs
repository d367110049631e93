//! CORS on the public endpoints: only the origins of the tenant's clients.

use crate::common;

use common::TestApp;
use reqwest::{Method, StatusCode};

async fn preflight(app: &TestApp, path: &str, origin: &str) -> (StatusCode, Option<String>) {
    let resp = app
        .http
        .request(Method::OPTIONS, format!("{}{path}", app.public))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization,content-type")
        .send()
        .await
        .unwrap();
    let allow = resp.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
    (resp.status(), allow)
}

#[tokio::test]
async fn only_client_origins_are_allowed() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await; // redirect URI on https://app.example.com
    app.tenant_admin("other").await;
    let good = "https://app.example.com";

    let (s, allow) = preflight(&app, "/oauth2/token", good).await;
    assert_eq!((s, allow.as_deref()), (StatusCode::NO_CONTENT, Some(good)));
    let (_, allow) = preflight(&app, "/.well-known/jwks.json", good).await;
    assert_eq!(allow.as_deref(), Some(good));
    for (path, origin) in [
        ("/oauth2/token", "https://evil.example"),
        ("/oauth2/token", "https://app.example.com:8443"),
        ("/oauth2/token", "http://app.example.com"),
        ("/t/other/oauth2/token", good),
    ] {
        let (_, allow) = preflight(&app, path, origin).await;
        assert_eq!(allow, None, "{path} from {origin}");
    }

    let post = |origin: &'static str| {
        app.http.post(app.token_url("")).header("Origin", origin).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials")]).send()
    };
    let resp = post(good).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["access-control-allow-origin"], good);
    let resp = post("https://evil.example").await.unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    // Once the client is gone, so is its origin.
    app.admin(Method::DELETE, &format!("/admin/oauth/clients/{id}"), None).await;
    let (_, allow) = preflight(&app, "/oauth2/token", good).await;
    assert_eq!(allow, None);
}

/// Every public response says what it varies on (also without an `Origin`, so that a cache
/// cannot hand one origin's answer to another), a preflight names the methods and headers a
/// browser may use, and a CORS response exposes the headers a browser client reads.
#[tokio::test]
async fn vary_allowed_and_exposed_headers() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let good = "https://app.example.com";
    let vary = |resp: &reqwest::Response| -> Vec<String> {
        resp.headers().get_all("vary").iter().flat_map(|v| v.to_str().unwrap().split(',').map(|s| s.trim().to_ascii_lowercase())).collect()
    };
    let complete =
        |v: &[String]| ["origin", "access-control-request-method", "access-control-request-headers"].iter().all(|h| v.iter().any(|x| x == h));

    let resp = app
        .http
        .request(Method::OPTIONS, app.token_url(""))
        .header("Origin", good)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization,content-type,dpop")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(complete(&vary(&resp)), "{:?}", vary(&resp));
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_ascii_lowercase()).unwrap_or_default();
    for m in ["get", "post", "options"] {
        assert!(header("access-control-allow-methods").contains(m), "{m}");
    }
    for h in ["authorization", "content-type", "dpop"] {
        assert!(header("access-control-allow-headers").contains(h), "{h}");
    }
    assert_eq!(header("access-control-max-age"), "600");

    let resp = app
        .http
        .post(app.token_url(""))
        .header("Origin", good)
        .basic_auth(&id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["access-control-allow-origin"], good);
    assert!(complete(&vary(&resp)), "{:?}", vary(&resp));
    let exposed = resp.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    for h in ["www-authenticate", "retry-after", "x-request-id"] {
        assert!(exposed.contains(h), "{h} in {exposed}");
    }

    let resp = app.http.post(app.token_url("")).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(complete(&vary(&resp)), "without an Origin too: {:?}", vary(&resp));
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}
