//! The HTML pages, built with `format!`. Every interpolated value goes through [`escape`].

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}\
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}\
h1{font-size:1.4rem;margin-top:0}label{display:block;margin:.8rem 0}\
input[type=text],input[type=password]{display:block;width:100%;box-sizing:border-box;padding:.5rem;margin-top:.3rem}\
.check{display:flex;gap:.5rem;align-items:baseline}.check small{display:block;color:#555}\
.error{color:#a00;background:#fee;padding:.6rem;border-radius:4px}\
.buttons{display:flex;gap:.5rem;margin-top:1.2rem}button{padding:.5rem 1rem}button.primary{font-weight:bold}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body><main>\n{body}\n</main></body></html>\n",
        title = escape(title),
    )
}

pub struct LoginForm<'a> {
    pub challenge: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    /// Prefilled: the `login_hint`, or what the user typed last time.
    pub username: &'a str,
    pub error: Option<&'a str>,
}

pub fn login(f: &LoginForm) -> String {
    let error = f.error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(e))).unwrap_or_default();
    // Focus the first empty field.
    let (af_user, af_pass) = if f.username.is_empty() { (" autofocus", "") } else { ("", " autofocus") };
    layout(
        "Sign in",
        &format!(
            "<h1>Sign in</h1>\n<p>to continue to <strong>{client}</strong></p>\n{error}\
             <form method=\"post\" action=\"login\">\n\
             <input type=\"hidden\" name=\"login_challenge\" value=\"{challenge}\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label>Username <input type=\"text\" name=\"username\" value=\"{username}\" autocomplete=\"username\" required{af_user}></label>\n\
             <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required{af_pass}></label>\n\
             <label class=\"check\"><input type=\"checkbox\" name=\"remember\" value=\"1\"> Remember me</label>\n\
             <div class=\"buttons\"><button class=\"primary\" type=\"submit\" name=\"action\" value=\"login\">Sign in</button>\n\
             <button type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate>Cancel</button></div>\n\
             </form>",
            client = escape(f.client_name),
            challenge = escape(f.challenge),
            csrf = escape(f.csrf),
            username = escape(f.username),
        ),
    )
}

pub struct ConsentForm<'a> {
    pub challenge: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub subject: &'a str,
    pub scopes: &'a [String],
}

/// What a scope means, in words for the user.
fn scope_description(scope: &str) -> &str {
    match scope {
        "openid" => "Sign you in with your account",
        "profile" => "Your name",
        "email" => "Your email address",
        "offline_access" => "Keep access while you are away",
        _ => "",
    }
}

pub fn consent(f: &ConsentForm) -> String {
    let scopes: String = f
        .scopes
        .iter()
        .map(|s| {
            format!(
                "<label class=\"check\"><input type=\"checkbox\" name=\"grant_scope\" value=\"{v}\" checked>\
                 <span><code>{v}</code><small>{d}</small></span></label>\n",
                v = escape(s),
                d = escape(scope_description(s)),
            )
        })
        .collect();
    layout(
        "Allow access?",
        &format!(
            "<h1>Allow access?</h1>\n<p><strong>{client}</strong> wants to access your account \
             (signed in as <strong>{subject}</strong>).</p>\n\
             <form method=\"post\" action=\"consent\">\n\
             <input type=\"hidden\" name=\"consent_challenge\" value=\"{challenge}\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n{scopes}\
             <label class=\"check\"><input type=\"checkbox\" name=\"remember\" value=\"1\" checked> Remember this decision</label>\n\
             <div class=\"buttons\"><button class=\"primary\" type=\"submit\" name=\"action\" value=\"allow\">Allow</button>\n\
             <button type=\"submit\" name=\"action\" value=\"deny\">Deny</button></div>\n\
             </form>",
            client = escape(f.client_name),
            subject = escape(f.subject),
            challenge = escape(f.challenge),
            csrf = escape(f.csrf),
        ),
    )
}

pub struct LogoutForm<'a> {
    pub challenge: &'a str,
    pub csrf: &'a str,
    pub subject: &'a str,
    pub client_name: Option<&'a str>,
}

pub fn logout(f: &LogoutForm) -> String {
    let from = f.client_name.map(|c| format!(" ({} asked)", escape(c))).unwrap_or_default();
    layout(
        "Sign out?",
        &format!(
            "<h1>Sign out?</h1>\n<p>You are signed in as <strong>{subject}</strong>{from}.</p>\n\
             <form method=\"post\" action=\"logout\">\n\
             <input type=\"hidden\" name=\"logout_challenge\" value=\"{challenge}\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <div class=\"buttons\"><button class=\"primary\" type=\"submit\" name=\"action\" value=\"yes\">Sign out</button>\n\
             <button type=\"submit\" name=\"action\" value=\"no\">Stay signed in</button></div>\n\
             </form>",
            subject = escape(f.subject),
            challenge = escape(f.challenge),
            csrf = escape(f.csrf),
        ),
    )
}

pub fn error(title: &str, message: &str) -> String {
    layout(title, &format!("<h1>{}</h1>\n<p>{}</p>", escape(title), escape(message)))
}

pub struct DeviceForm<'a> {
    pub challenge: &'a str,
    pub csrf: &'a str,
    /// Prefilled from `verification_uri_complete`, or what the user typed last time.
    pub user_code: &'a str,
    pub error: Option<&'a str>,
}

/// "Enter the code shown on your device" (RFC 8628 §3.3).
pub fn device(f: &DeviceForm) -> String {
    let error = f.error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(e))).unwrap_or_default();
    layout(
        "Connect a device",
        &format!(
            "<h1>Connect a device</h1>\n<p>Enter the code shown on your device.</p>\n{error}\
             <form method=\"post\" action=\"device\">\n\
             <input type=\"hidden\" name=\"device_challenge\" value=\"{challenge}\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label>Code <input type=\"text\" name=\"user_code\" value=\"{code}\" autocomplete=\"one-time-code\" \
             autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"16\" required autofocus></label>\n\
             <div class=\"buttons\"><button class=\"primary\" type=\"submit\">Continue</button></div>\n</form>",
            challenge = escape(f.challenge),
            csrf = escape(f.csrf),
            code = escape(f.user_code),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_interpolated_is_escaped() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        let evil = "\"><script>alert(1)</script>";
        let page = login(&LoginForm { challenge: evil, csrf: evil, client_name: evil, username: evil, error: Some(evil) });
        assert!(!page.contains("<script>"), "{page}");
        let scopes = vec![evil.to_owned()];
        let page = consent(&ConsentForm { challenge: evil, csrf: evil, client_name: evil, subject: evil, scopes: &scopes });
        assert!(!page.contains("<script>"), "{page}");
        assert!(!error(evil, evil).contains("<script>"));
        let page = logout(&LogoutForm { challenge: evil, csrf: evil, subject: evil, client_name: Some(evil) });
        assert!(!page.contains("<script>"), "{page}");
        let page = device(&DeviceForm { challenge: evil, csrf: evil, user_code: evil, error: Some(evil) });
        assert!(!page.contains("<script>"), "{page}");
    }
}
