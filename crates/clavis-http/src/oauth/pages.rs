//! The HTML pages Clavis itself shows a browser: the error page, the "Sign out?"
//! confirmation, the front-channel logout page and the form post response. Each is a locked page: never cached, never
//! framed, no referrer, and nothing runs but what its CSP names.
//!
//! Errors the authorization and logout endpoints cannot send to a client (unknown client,
//! unregistered redirect URI, a spent or foreign verifier, …) must not reach the browser as
//! raw JSON, nor with any internal detail. Decision: with `CLAVIS_ERROR_URL` set, the browser
//! is sent there with `error`, `error_description` and `error_hint` (as Hydra's `urls.error`);
//! otherwise a request that accepts `text/html` (every browser) gets a small HTML page, and
//! any other caller the JSON error body as before. A 5xx shows only a generic text; its cause
//! goes to the log.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use clavis_service::{OAuthError, Settings};

use super::OAuthErrorBody;

const SERVER_TROUBLE: &str = "The server could not complete this request. Please try again later.";
const HINT: &str = "Go back to the application you came from and start again.";

/// Escapes text for an HTML element or a double-quoted attribute.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A page with the headers every page of ours carries, under `csp`.
fn locked(status: StatusCode, html: String, csp: &str) -> Response {
    let mut resp = (status, Html(html)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(csp).expect("an ASCII header"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}

pub(crate) fn error_page(settings: &Settings, headers: &HeaderMap, e: &OAuthError) -> Response {
    let status = match StatusCode::from_u16(e.status()) {
        Ok(s) if s.is_server_error() => {
            tracing::error!(error = %clavis_service::error_chain(e), "request failed");
            s
        }
        _ => StatusCode::BAD_REQUEST,
    };
    let description = if status.is_server_error() { SERVER_TROUBLE } else { e.description() };
    let redirect = settings.error_url.as_deref().and_then(|u| url::Url::parse(u).ok()).and_then(|mut to| {
        to.query_pairs_mut().extend_pairs([("error", e.code()), ("error_description", description), ("error_hint", HINT)]);
        HeaderValue::from_str(to.as_str()).ok()
    });
    let mut resp = if let Some(location) = redirect {
        (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
    } else if accepts_html(headers) {
        return locked(status, error_html(e.code(), description), "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    } else {
        (status, OAuthErrorBody::json(e.code(), description)).into_response()
    };
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("text/html"))
}

fn error_html(code: &str, description: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Sign-in error</title><style>body{{font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em}}\
         code{{color:#666}}</style></head><body><h1>This sign-in request cannot continue</h1><p>{}</p><p>{HINT}</p>\
         <p><code>{}</code></p></body></html>",
        escape(description),
        escape(code)
    )
}

/// The built-in "Sign out?" page for a logout without an ID token hint: its form posts the
/// verifier back to the logout endpoint.
pub(crate) fn confirmation_page(action: &str, verifier: &str) -> Response {
    // Both are ours: a path of our router and a URL-safe base64 handle; escaped anyway.
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign out</title></head><body>\
         <h1>Sign out?</h1><p>An application asked to sign you out of this site.</p>\
         <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"logout_verifier\" value=\"{}\">\
         <button type=\"submit\">Sign out</button></form></body></html>",
        escape(action),
        escape(verifier)
    );
    locked(StatusCode::OK, html, "default-src 'none'; frame-ancestors 'none'")
}

/// The script of the form post page; the page's CSP allows exactly this script, by hash.
const FORM_POST_SCRIPT: &str = "document.forms[0].submit();";
/// `'sha256-…'` of [`FORM_POST_SCRIPT`] (checked by a test).
const FORM_POST_SCRIPT_HASH: &str = "'sha256-8lDeP0UDwCO6/RhblgeH/ctdBzjVpJxrXizsnIk3cEQ='";

/// OAuth 2.0 Form Post Response Mode §2: a page whose form posts the response to the
/// client's redirect URI as soon as it loads (a button without JavaScript).
pub(crate) fn form_post_page(action: &str, params: &[(String, String)]) -> Response {
    let inputs: String = params.iter().map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(k), escape(v))).collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signing in</title></head><body>\
         <form method=\"post\" action=\"{}\">{inputs}<noscript><button type=\"submit\">Continue</button></noscript></form>\
         <script>{FORM_POST_SCRIPT}</script></body></html>",
        escape(action)
    );
    locked(StatusCode::OK, html, &format!("default-src 'none'; script-src {FORM_POST_SCRIPT_HASH}; frame-ancestors 'none'"))
}

/// The script of the front-channel logout page: once every iframe has loaded (the
/// window's `load`), or after three seconds, the browser moves on.
const FRONTCHANNEL_SCRIPT: &str =
    "var next=document.body.dataset.next,go=function(){location.replace(next)};window.addEventListener(\"load\",go);setTimeout(go,3000);";
/// `'sha256-…'` of [`FRONTCHANNEL_SCRIPT`] (checked by a test).
const FRONTCHANNEL_SCRIPT_HASH: &str = "'sha256-nv+ufebnCKnd4bLhsGPBL+i2C3UxgVAHGZldlUelF5k='";

/// OpenID Connect Front-Channel Logout 1.0 §2: the logout page loads each client's
/// `frontchannel_logout_uri` in an invisible iframe, then goes on to `next` (the
/// post-logout URI or the logout app), if there is one. The CSP lets it frame exactly
/// those origins.
pub(crate) fn frontchannel_page(frames: &[String], next: Option<&str>) -> Response {
    let origins: Vec<String> = frames.iter().filter_map(|f| url::Url::parse(f).ok()).map(|u| u.origin().ascii_serialization()).collect();
    let iframes: String = frames.iter().map(|f| format!("<iframe src=\"{}\" hidden width=\"0\" height=\"0\"></iframe>", escape(f))).collect();
    let (body, script, csp_script) = match next {
        Some(next) => (
            format!("<body data-next=\"{0}\"><p>Signing you out…</p><noscript><a href=\"{0}\">Continue</a></noscript>", escape(next)),
            format!("<script>{FRONTCHANNEL_SCRIPT}</script>"),
            format!("script-src {FRONTCHANNEL_SCRIPT_HASH}; "),
        ),
        None => ("<body><h1>You are signed out</h1>".to_owned(), String::new(), String::new()),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out</title></head>{body}{iframes}{script}</body></html>"
    );
    let csp = format!("default-src 'none'; {csp_script}frame-src {}; frame-ancestors 'none'", origins.join(" "));
    locked(StatusCode::OK, html, &csp)
}

/// The page a device flow ends on in the browser (RFC 8628 §3.3): back to the device.
pub(crate) fn device_done_page(approved: bool) -> Response {
    let (title, text) = if approved {
        ("Device connected", "You have approved the device. You may close this window and return to it.")
    } else {
        ("Device not connected", "The request was refused. You may close this window.")
    };
    let html = format!("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>");
    locked(StatusCode::OK, html, "default-src 'none'; frame-ancestors 'none'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_page_escapes_what_it_shows() {
        let page = error_html("invalid_request", "<script>alert(1)</script> & \"x\"");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"), "{page}");
        assert!(!page.contains("<script>"));
    }

    #[test]
    fn the_form_post_page_allows_its_own_script_only_and_escapes_values() {
        use base64::Engine;
        let hex = &clavis_core::secret::hash(FORM_POST_SCRIPT)["sha256$".len()..];
        let digest: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
        let hash = format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest));
        assert_eq!(hash, FORM_POST_SCRIPT_HASH);
        let resp = form_post_page("https://rp.example/cb?a=1&b=2", &[("state".into(), "\"><script>x</script>".into())]);
        let csp = resp.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        assert!(csp.contains(FORM_POST_SCRIPT_HASH) && csp.starts_with("default-src 'none'"), "{csp}");
        let body = futures_body(resp);
        assert!(body.contains("action=\"https://rp.example/cb?a=1&amp;b=2\""), "{body}");
        assert!(body.contains("value=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""), "{body}");
        assert_eq!(body.matches("<script>").count(), 1);
    }

    fn futures_body(resp: Response) -> String {
        let bytes = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(axum::body::to_bytes(resp.into_body(), 1 << 20)).unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn the_frontchannel_page_frames_exactly_the_clients_and_moves_on() {
        use base64::Engine;
        let hex = &clavis_core::secret::hash(FRONTCHANNEL_SCRIPT)["sha256$".len()..];
        let digest: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
        assert_eq!(format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest)), FRONTCHANNEL_SCRIPT_HASH);
        let frames = ["https://a.example/fc?iss=x&sid=1".to_owned(), "http://127.0.0.1:8080/fc\"><script>".to_owned()];
        let resp = frontchannel_page(&frames, Some("https://rp.example/bye?state=<s>"));
        let csp = resp.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-src https://a.example http://127.0.0.1:8080;") && csp.contains(FRONTCHANNEL_SCRIPT_HASH), "{csp}");
        let body = futures_body(resp);
        assert!(body.contains("src=\"https://a.example/fc?iss=x&amp;sid=1\""), "{body}");
        assert!(body.contains("data-next=\"https://rp.example/bye?state=&lt;s&gt;\""), "{body}");
        assert_eq!(body.matches("<script>").count(), 1);
        let done = futures_body(frontchannel_page(&frames[..1], None));
        assert!(done.contains("signed out") && !done.contains("<script>"), "{done}");
    }
}
