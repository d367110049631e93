"""The authorization code flow (PKCE, OpenID Connect) of Clavis with Authlib as the
relying party.

Authlib's `OAuth2Session` builds the authorization URL (state, nonce, S256 challenge),
redeems the code, refreshes, introspects and revokes; `authlib.oidc.core.CodeIDToken`
validates the ID tokens (iss, aud, exp, nonce, at_hash) against the JWKS from discovery.
The test itself plays the two other parties: the browser (a `requests` session that
does not follow redirects) and the login & consent app (through the Ory Hydra-style admin
API, `/admin/oauth2/auth/requests/*`).
"""

import json
import time
import warnings
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # authlib.jose: see clavis_interop
    from authlib.jose import JoseError, JsonWebKey, JsonWebToken
    from authlib.jose.errors import BadSignatureError

from clavis_interop import AdminApi, jwt_header, basic_credentials, discover, fetch_jwks, fetch_token, http, jwt, oauth_session

RP_REDIRECT = "https://rp.example/cb"
RP_OTHER_REDIRECT = "https://rp.example/other"
RP_SCOPE = "openid offline_access email"
SUBJECT = "alice"
EMAIL = "alice@example.com"
ACR = "urn:clavis:loa:1"
AMR = ["pwd"]


def query(url):
    """The query parameters of a URL; each must occur once."""
    params = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in params.values()), f"a repeated parameter in {url}"
    return {k: v[0] for k, v in params.items()}


def remember_tokens(clavis, token):
    """Every token in a token response is a secret the log must never show."""
    clavis.sensitive |= {token[k] for k in ("access_token", "refresh_token", "id_token") if token.get(k)}
    return token


class Browser:
    """A user agent that follows redirects by hand, and keeps cookies."""

    def __init__(self):
        self.session = http()
        self.last = None  # the last response

    def get(self, url):
        self.last = self.session.get(url, allow_redirects=False, timeout=10)
        return self.last

    def redirected(self, url, to):
        """GETs `url`, which must answer 303 with a Location under `to`; returns the Location."""
        resp = self.get(url)
        assert resp.status_code == 303, f"{resp.status_code} {resp.text}"
        location = resp.headers["Location"]
        assert location.startswith(to + "?"), f"redirected to {location}, expected {to}"
        return location


class LoginConsentApp:
    """The login & consent app of one tenant: Hydra's admin API with that tenant's admin token."""

    def __init__(self, clavis, admin_token):
        self.clavis = clavis
        self.session = http()
        self.session.headers["Authorization"] = f"Bearer {admin_token}"

    def call(self, method, path, challenge_name, challenge, json=None):
        return self.session.request(
            method,
            f"{self.clavis.admin_url}/admin/oauth2/auth/requests/{path}",
            params={challenge_name: challenge},
            json=json,
            timeout=10,
        )

    def ok(self, resp):
        assert resp.status_code == 200, f"{resp.status_code} {resp.text}"
        return resp.json()

    def login_request(self, challenge):
        return self.ok(self.call("GET", "login", "login_challenge", challenge))

    def accept_login(self, challenge, subject=SUBJECT, remember=False):
        body = {"subject": subject, "acr": ACR, "amr": AMR, "remember": remember}
        if remember:
            body["remember_for"] = 3600
        return self.ok(self.call("PUT", "login/accept", "login_challenge", challenge, body))["redirect_to"]

    def reject_login(self, challenge, description):
        body = {"error": "access_denied", "error_description": description}
        return self.ok(self.call("PUT", "login/reject", "login_challenge", challenge, body))["redirect_to"]

    def consent_request(self, challenge):
        return self.ok(self.call("GET", "consent", "consent_challenge", challenge))

    def accept_consent(self, challenge, grant_scope, remember=False):
        body = {
            "grant_scope": grant_scope,
            "grant_access_token_audience": [],
            "remember": remember,
            "session": {"id_token": {"email": EMAIL}, "access_token": {}},
        }
        return self.ok(self.call("PUT", "consent/accept", "consent_challenge", challenge, body))["redirect_to"]


class RelyingParty:
    """A client application built on Authlib's OAuth2Session, configured from discovery."""

    def __init__(self, clavis, metadata, client, method, redirect_uri=RP_REDIRECT):
        self.clavis = clavis
        self.metadata = metadata
        self.client_id = client["client_id"]
        secret = client.get("client_secret")
        if secret:
            clavis.sensitive |= {secret, basic_credentials(self.client_id, secret)}
        self.session = oauth_session(
            self.client_id,
            secret,
            method,
            revocation_endpoint_auth_method=method,
            scope=RP_SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )
        self.code_verifier = generate_token(48)  # RFC 7636: 43 to 128 characters
        clavis.sensitive.add(self.code_verifier)
        self.nonce = generate_token(24)
        self.state = None

    def authorization_url(self, pkce=True, **params):
        url, self.state = self.session.create_authorization_url(
            self.metadata["authorization_endpoint"],
            code_verifier=self.code_verifier if pkce else None,
            nonce=self.nonce,
            **params,
        )
        return url

    def fetch_token(self, authorization_response, **params):
        params.setdefault("code_verifier", self.code_verifier)
        token = self.session.fetch_token(
            self.metadata["token_endpoint"],
            authorization_response=authorization_response,
            state=self.state,  # Authlib compares it with the state in the response
            **params,
        )
        return remember_tokens(self.clavis, token)

    def refresh(self, refresh_token):
        return remember_tokens(
            self.clavis, self.session.refresh_token(self.metadata["token_endpoint"], refresh_token=refresh_token)
        )

    def introspect(self, token):
        resp = self.session.introspect_token(self.metadata["introspection_endpoint"], token=token)
        assert resp.status_code == 200, f"{resp.status_code} {resp.text}"
        return resp.json()

    def revoke(self, token, hint=None):
        return self.session.revoke_token(self.metadata["revocation_endpoint"], token=token, token_type_hint=hint)

    def userinfo(self, access_token):
        """GET /userinfo with the access token, as Authlib sends it (Bearer header)."""
        self.session.token = {"access_token": access_token, "token_type": "Bearer"}
        return self.session.get(self.metadata["userinfo_endpoint"], timeout=10)


def to_login(clavis, browser, authorization_url):
    """The browser starts at the authorization endpoint and lands at the login app;
    returns the login challenge."""
    location = browser.redirected(authorization_url, clavis.login_url)
    challenge = query(location)["login_challenge"]
    clavis.sensitive.add(challenge)
    return challenge


def sign_in(clavis, app, browser, rp, authorization_url=None, login_challenge=None, remember=False, skip=False, form_post=False,
            remember_consent=False):
    """The browser's trip through login and consent (`SUBJECT` logs in and consents to
    everything asked), from the authorization URL or from the login app with its
    challenge; returns the URL the browser is finally sent to at the client.

    `remember`: the login app asks for a login session (a cookie); `skip`: the browser
    has one, so the login request must say that the user is logged in already;
    `form_post`: the response comes as a page posting a form, whose fields are returned;
    `remember_consent`: the consent app asks for the consent to be remembered."""
    challenge = login_challenge or to_login(clavis, browser, authorization_url)
    login = app.login_request(challenge)
    assert login["challenge"] == challenge
    assert login["client"]["client_id"] == rp.client_id
    assert login["request_url"].startswith(rp.metadata["authorization_endpoint"] + "?")
    assert login["requested_scope"] == RP_SCOPE.split()
    assert login["oidc_context"] is not None
    if skip:  # Hydra: the login app must then accept with the session's subject
        assert login["skip"] is True and login["subject"] == SUBJECT and login["session_id"], login
    else:
        assert login["skip"] is False and login["subject"] == "", login

    back_to_auth = app.accept_login(challenge, remember=remember)
    assert back_to_auth.startswith(rp.metadata["authorization_endpoint"] + "?"), back_to_auth
    clavis.sensitive.add(query(back_to_auth)["login_verifier"])
    to_consent = browser.redirected(back_to_auth, clavis.consent_url)
    cookie = browser.last.headers.get("Set-Cookie")
    if remember and not skip:
        assert cookie, "remember=true, but no login session cookie was set"
        clavis.sensitive.add(cookie.split(";")[0].split("=", 1)[1])
    else:
        assert cookie is None, cookie
    challenge = query(to_consent)["consent_challenge"]
    clavis.sensitive.add(challenge)
    consent = app.consent_request(challenge)
    assert consent["challenge"] == challenge
    assert consent["subject"] == SUBJECT
    assert consent["client"]["client_id"] == rp.client_id
    assert consent["requested_scope"] == RP_SCOPE.split()
    assert consent["skip"] is False

    back_to_auth = app.accept_consent(challenge, consent["requested_scope"], remember=remember_consent)
    assert back_to_auth.startswith(rp.metadata["authorization_endpoint"] + "?"), back_to_auth
    clavis.sensitive.add(query(back_to_auth)["consent_verifier"])
    if form_post:
        resp = browser.get(back_to_auth)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html"), resp.text
        action, fields = posted_form(resp.text)
        assert action == RP_REDIRECT, action
        clavis.sensitive.add(fields["code"])
        return fields
    back = browser.redirected(back_to_auth, RP_REDIRECT)
    code = query(back).get("code")
    assert code, back
    clavis.sensitive.add(code)
    return back


def posted_form(page):
    """The action and fields of the form of a Form Post Response Mode page."""
    from html.parser import HTMLParser

    class Form(HTMLParser):
        action, fields = None, {}

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "form":
                assert a.get("method") == "post", a
                self.action = a["action"]
            elif tag == "input" and a.get("type") == "hidden":
                self.fields[a["name"]] = a["value"]

    form = Form()
    form.feed(page)
    return form.action, dict(form.fields)


def authorize(clavis, app, rp):
    """A whole authorization request through login and consent; returns the redirect back."""
    return sign_in(clavis, app, Browser(), rp, rp.authorization_url())


def validate_id_token(id_token, metadata, keys, client_id, access_token, nonce, alg="RS256"):
    """Validates an ID token as an OpenID Connect relying party using Authlib does; RS256
    is the default algorithm of ID tokens."""
    claims = jwt.decode(
        id_token,
        keys,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": metadata["issuer"]},
            "aud": {"essential": True, "value": client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "auth_time": {"essential": True},
            "at_hash": {"essential": True},
        },
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    claims.validate()  # iss, aud, exp, iat; nonce, at_hash and azp against the params
    assert claims.header["alg"] == alg
    assert claims.header.get("kid") in {k.kid for k in keys.keys}
    # The same again, spelled out, so a failure says exactly which one is off.
    assert claims["iss"] == metadata["issuer"]
    assert claims["aud"] == [client_id]
    assert claims["sub"] == SUBJECT
    assert claims["auth_time"] <= claims["iat"] < claims["exp"]
    assert claims["acr"] == ACR and claims["amr"] == AMR
    assert claims["sid"]
    assert claims["email"] == EMAIL  # from the consent session
    return claims


def oauth_error(call, *args, **kwargs):
    """The OAuthError Authlib raises for an error response."""
    with pytest.raises(OAuthError) as raised:
        call(*args, **kwargs)
    return raised.value


class Tenant:
    """An issuer seen from outside: its metadata and keys, and its login & consent app."""

    def __init__(self, clavis, metadata, admin_token, create_client):
        clavis.sensitive.add(admin_token)
        self.metadata = metadata
        self.keys = fetch_jwks(metadata)
        self.app = LoginConsentApp(clavis, admin_token)
        self.admin_token = admin_token
        self.create_client = create_client  # client body -> the created client (with its secret)

    def introspect_as_admin(self, token):
        """RFC 7662 with the tenant's admin token as the caller's credentials."""
        resp = http().post(
            self.metadata["introspection_endpoint"],
            data={"token": token},
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        assert resp.status_code == 200, f"{resp.status_code} {resp.text}"
        return resp.json()


def rp_client_body(confidential=True, **fields):
    body = {
        "name": "rp",
        "redirect_uris": [RP_REDIRECT, RP_OTHER_REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": RP_SCOPE.split(),
        "is_confidential": confidential,
        "client_auth_methods": ["client_secret_basic"] if confidential else ["none"],
    }
    body.update(fields)
    return body


@pytest.fixture(scope="module")
def default(clavis):
    """The default tenant (at the root), with the bootstrap admin client as its admin."""
    metadata = discover(clavis)
    admin = {"client_id": clavis.bootstrap_client_id, "client_secret": clavis.bootstrap_secret}
    token = fetch_token(clavis, admin, "client_secret_basic", metadata["token_endpoint"], scope="admin")
    api = AdminApi(clavis, token["access_token"])
    return Tenant(clavis, metadata, token["access_token"], api.create_client)


@pytest.fixture(scope="module")
def acme(clavis, default):
    """Tenant `acme`: its admin client comes from the internal API, its token from its issuer."""
    internal = AdminApi(clavis, default.admin_token)
    admin = internal.create_internal_client("acme", name="acme-admin", scopes=["admin"])
    metadata = discover(clavis, "acme")
    token = fetch_token(clavis, admin, "client_secret_basic", metadata["token_endpoint"], scope="admin")
    assert token["scope"] == "admin"
    return Tenant(clavis, metadata, token["access_token"], lambda **f: internal.create_internal_client("acme", **f))


@pytest.fixture(scope="module")
def web_client(default):
    """A confidential client of the default tenant (client_secret_basic)."""
    return default.create_client(**rp_client_body())


def web_rp(clavis, tenant, client):
    return RelyingParty(clavis, tenant.metadata, client, "client_secret_basic")


def signed_in(clavis, tenant, client):
    """A relying party that went through the flow and holds its tokens."""
    rp = web_rp(clavis, tenant, client)
    return rp, rp.fetch_token(authorize(clavis, tenant.app, rp))


def test_discovery_describes_the_code_flow(clavis, default, acme):
    for tenant, issuer in [(default, clavis.public_url), (acme, clavis.public_url + "/t/acme")]:
        m = tenant.metadata
        assert m["issuer"] == issuer
        for name, path in [
            ("authorization_endpoint", "/oauth2/auth"),
            ("token_endpoint", "/oauth2/token"),
            ("userinfo_endpoint", "/userinfo"),
            ("introspection_endpoint", "/oauth2/introspect"),
            ("revocation_endpoint", "/oauth2/revoke"),
            ("jwks_uri", "/.well-known/jwks.json"),
        ]:
            assert m[name] == issuer + path, name
        assert m["code_challenge_methods_supported"] == ["S256"]
        assert "code" in m["response_types_supported"]
        assert {"authorization_code", "refresh_token"} <= set(m["grant_types_supported"])
        # OpenID Connect Discovery §3: RS256 MUST be listed; it is the default.
        assert m["id_token_signing_alg_values_supported"] == ["RS256", "PS256", "ES256", "EdDSA"]
        assert m["userinfo_signing_alg_values_supported"] == ["RS256", "PS256", "ES256", "EdDSA"]
        assert "none" in m["token_endpoint_auth_methods_supported"]
        assert m["authorization_response_iss_parameter_supported"] is True
        # OpenID Connect Core §5.4's scopes, so that a certification run does not skip them.
        assert {"openid", "offline_access", "profile", "email", "address", "phone"} <= set(m["scopes_supported"])
        assert {"email", "name", "phone_number", "address"} <= set(m["claims_supported"])


def test_confidential_client_code_flow_with_pkce(clavis, default, web_client):
    rp = web_rp(clavis, default, web_client)
    url = rp.authorization_url()
    sent = query(url)
    assert sent["code_challenge"] == create_s256_code_challenge(rp.code_verifier)
    assert sent["code_challenge_method"] == "S256"
    assert sent["nonce"] == rp.nonce and sent["state"] == rp.state

    back = sign_in(clavis, default.app, Browser(), rp, url)
    got = query(back)
    assert got["iss"] == default.metadata["issuer"], "RFC 9207: the authorization response names its issuer"
    assert got["state"] == rp.state
    assert got["scope"].split() == RP_SCOPE.split()

    token = rp.fetch_token(back)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] > 0
    assert set(token["scope"].split()) == set(RP_SCOPE.split())
    assert token["refresh_token"] and token["id_token"]

    id_claims = validate_id_token(
        token["id_token"], default.metadata, default.keys, rp.client_id, token["access_token"], rp.nonce
    )
    assert id_claims["nonce"] == rp.nonce
    # The access token is an RFC 9068 JWT of the same issuer, for the user.
    at = jwt.decode(token["access_token"], default.keys)
    at.validate()
    assert at.header["typ"] == "at+jwt"
    assert (at["iss"], at["sub"], at["client_id"]) == (default.metadata["issuer"], SUBJECT, rp.client_id)
    assert set(at["scope"].split()) == set(RP_SCOPE.split())

    resp = rp.userinfo(token["access_token"])
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"sub": SUBJECT, "email": EMAIL}

    # The client introspects its own tokens (client_secret_basic, as at the token endpoint).
    info = rp.introspect(token["access_token"])
    assert info["active"] is True
    assert info["token_use"] == "access_token"
    assert (info["sub"], info["client_id"], info["iss"]) == (SUBJECT, rp.client_id, default.metadata["issuer"])
    assert set(info["scope"].split()) == set(RP_SCOPE.split())
    assert info["exp"] > info["iat"]
    info = rp.introspect(token["refresh_token"])
    assert info["active"] is True
    assert info["token_use"] == "refresh_token"
    assert (info["sub"], info["client_id"]) == (SUBJECT, rp.client_id)
    # The tenant's admin token is accepted as the caller too.
    assert default.introspect_as_admin(token["access_token"])["active"] is True


def test_refresh_rotates_and_reuse_revokes_the_family(clavis, default, web_client):
    rp, first = signed_in(clavis, default, web_client)
    first_id = validate_id_token(
        first["id_token"], default.metadata, default.keys, rp.client_id, first["access_token"], rp.nonce
    )

    second = rp.refresh(first["refresh_token"])
    assert second["refresh_token"] and second["refresh_token"] != first["refresh_token"], "no rotation"
    assert second["access_token"] != first["access_token"]
    assert set(second["scope"].split()) == set(RP_SCOPE.split())
    # A refreshed ID token (OIDC Core §12.2): same iss, sub, aud, auth_time; at_hash of the new token.
    second_id = validate_id_token(
        second["id_token"], default.metadata, default.keys, rp.client_id, second["access_token"], None
    )
    assert second_id["auth_time"] == first_id["auth_time"]
    assert second_id.get("nonce") in (None, rp.nonce)
    assert rp.userinfo(second["access_token"]).json() == {"sub": SUBJECT, "email": EMAIL}
    # Rotation: the used refresh token is no longer active, its successor is.
    assert rp.introspect(first["refresh_token"])["active"] is False
    assert rp.introspect(second["refresh_token"])["active"] is True

    third = rp.refresh(second["refresh_token"])
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])

    # Reusing a rotated refresh token is refused...
    error = oauth_error(rp.refresh, first["refresh_token"])
    assert error.error == "invalid_grant", error.description
    # ...and revokes the whole family, with the access tokens issued along it.
    error = oauth_error(rp.refresh, third["refresh_token"])
    assert error.error == "invalid_grant", error.description
    for name, token in [("first", first), ("second", second), ("third", third)]:
        assert rp.introspect(token["access_token"])["active"] is False, f"{name} access token"
        assert rp.introspect(token["refresh_token"])["active"] is False, f"{name} refresh token"
    assert rp.userinfo(third["access_token"]).status_code == 401


def test_revocation_by_the_owning_client(clavis, default, web_client):
    rp, token = signed_in(clavis, default, web_client)

    # Another confidential client of the tenant (a resource server, say, authenticating
    # with client_secret_post) may introspect the token, but not revoke it.
    other_client = default.create_client(**rp_client_body(name="other", client_auth_methods=["client_secret_post"]))
    other = RelyingParty(clavis, default.metadata, other_client, "client_secret_post")
    assert other.introspect(token["refresh_token"])["active"] is True
    resp = other.revoke(token["refresh_token"], "refresh_token")
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "unauthorized_client"
    assert rp.introspect(token["refresh_token"])["active"] is True

    # The owner revokes the refresh token: it and the access token issued with it go.
    resp = rp.revoke(token["refresh_token"], "refresh_token")
    assert resp.status_code == 200, resp.text
    assert rp.introspect(token["refresh_token"]) == {"active": False}
    assert rp.introspect(token["access_token"]) == {"active": False}
    assert oauth_error(rp.refresh, token["refresh_token"]).error == "invalid_grant"
    assert rp.userinfo(token["access_token"]).status_code == 401
    # Revoking again, or an unknown token, is still 200 (RFC 7009 §2.2).
    assert rp.revoke(token["refresh_token"]).status_code == 200
    assert rp.revoke(generate_token(43)).status_code == 200

    # An access token on its own.
    rp, token = signed_in(clavis, default, web_client)
    assert rp.revoke(token["access_token"], "access_token").status_code == 200
    assert rp.introspect(token["access_token"])["active"] is False
    assert rp.userinfo(token["access_token"]).status_code == 401


def test_public_client_with_pkce(clavis, default):
    client = default.create_client(**rp_client_body(confidential=False))
    assert "client_secret" not in client or not client["client_secret"]
    rp = RelyingParty(clavis, default.metadata, client, "none")

    # Without PKCE a public client is turned away, back at its redirect URI (RFC 6749 §4.1.2.1).
    resp = Browser().get(rp.authorization_url(pkce=False))
    assert resp.status_code == 303
    refused = query(resp.headers["Location"])
    assert resp.headers["Location"].startswith(RP_REDIRECT + "?")
    assert refused["error"] == "invalid_request"
    assert refused["state"] == rp.state and refused["iss"] == default.metadata["issuer"]

    token = rp.fetch_token(authorize(clavis, default.app, rp))  # client_id in the body, no secret
    validate_id_token(token["id_token"], default.metadata, default.keys, rp.client_id, token["access_token"], rp.nonce)
    assert rp.userinfo(token["access_token"]).json() == {"sub": SUBJECT, "email": EMAIL}

    refreshed = rp.refresh(token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    # A public client cannot introspect (it cannot authenticate)...
    resp = rp.session.introspect_token(default.metadata["introspection_endpoint"], token=refreshed["access_token"])
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"] == "invalid_client"
    # ...but can revoke its own tokens.
    assert rp.revoke(refreshed["refresh_token"], "refresh_token").status_code == 200
    assert default.introspect_as_admin(refreshed["refresh_token"]) == {"active": False}
    assert default.introspect_as_admin(refreshed["access_token"]) == {"active": False}


def test_code_replay_is_invalid_grant(clavis, default, web_client):
    rp = web_rp(clavis, default, web_client)
    back = authorize(clavis, default.app, rp)
    first = rp.fetch_token(back)

    error = oauth_error(rp.fetch_token, back)
    assert error.error == "invalid_grant", error.description
    # RFC 9700 §4.5: what the code issued the first time is revoked.
    assert rp.introspect(first["access_token"])["active"] is False
    assert rp.introspect(first["refresh_token"])["active"] is False


def test_wrong_code_verifier_is_invalid_grant(clavis, default, web_client):
    rp = web_rp(clavis, default, web_client)
    back = authorize(clavis, default.app, rp)
    wrong = generate_token(48)
    clavis.sensitive.add(wrong)
    error = oauth_error(rp.fetch_token, back, code_verifier=wrong)
    assert error.error == "invalid_grant", error.description


def test_token_request_with_another_redirect_uri_is_invalid_grant(clavis, default, web_client):
    # Both URIs are registered; the token request must repeat the authorization request's.
    rp = web_rp(clavis, default, web_client)
    back = authorize(clavis, default.app, rp)
    error = oauth_error(rp.fetch_token, back, redirect_uri=RP_OTHER_REDIRECT)
    assert error.error == "invalid_grant", error.description


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/cb",
        RP_REDIRECT + "/",  # exact match only: no prefix, no normalisation
        "https://rp.example/cb?x=1",
    ],
)
def test_unregistered_redirect_uri_is_an_error_page_not_a_redirect(clavis, default, web_client, redirect_uri):
    rp = RelyingParty(clavis, default.metadata, web_client, "client_secret_basic", redirect_uri=redirect_uri)
    resp = Browser().get(rp.authorization_url())
    assert resp.status_code == 400, f"{resp.status_code} {resp.headers.get('Location')}"
    assert "Location" not in resp.headers
    assert resp.json()["error"] == "invalid_request"


def test_rejected_login_is_an_error_response_with_iss(clavis, default, web_client):
    rp = web_rp(clavis, default, web_client)
    browser = Browser()
    challenge = to_login(clavis, browser, rp.authorization_url())
    # As in Hydra, the login app sends the browser back to the authorization endpoint,
    # which answers the client.
    back_to_auth = default.app.reject_login(challenge, "the user said no")
    assert back_to_auth.startswith(rp.metadata["authorization_endpoint"] + "?"), back_to_auth
    clavis.sensitive.add(query(back_to_auth)["login_verifier"])
    back = browser.redirected(back_to_auth, RP_REDIRECT)
    got = query(back)
    assert got["error"] == "access_denied"
    assert got["error_description"] == "the user said no"
    assert got["state"] == rp.state
    assert got["iss"] == default.metadata["issuer"]
    assert "code" not in got
    # The challenge is spent: the login app cannot accept it afterwards.
    resp = default.app.call("PUT", "login/accept", "login_challenge", challenge, {"subject": SUBJECT})
    assert resp.status_code >= 400, resp.text


@pytest.mark.parametrize(
    "change, error",
    [
        ({"state": None}, "invalid_request"),  # state is required
        ({"code_challenge_method": "plain"}, "invalid_request"),  # only S256
        ({"code_challenge_method": None}, "invalid_request"),  # which means plain (RFC 7636 §4.3)
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "openid admin"}, "invalid_scope"),  # `admin` exists, but not for this client
        ({"prompt": "none"}, "login_required"),  # no login session in this browser
    ],
    ids=["no-state", "plain", "no-method", "token", "scope", "prompt-none"],
)
def test_bad_authorization_request_is_an_error_response_with_iss(clavis, default, web_client, change, error):
    # The client and redirect URI are good: the error goes back to the client (RFC 6749 §4.1.2.1).
    rp = web_rp(clavis, default, web_client)
    url = urlsplit(rp.authorization_url())
    params = {**query(url.geturl()), **change}
    resp = Browser().session.get(
        url._replace(query="").geturl(),
        params={k: v for k, v in params.items() if v is not None},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 303, resp.text
    location = resp.headers["Location"]
    assert location.startswith(RP_REDIRECT + "?"), location
    got = query(location)
    assert got["error"] == error, got
    assert got["iss"] == default.metadata["issuer"]
    assert got.get("state") == params.get("state")
    assert "code" not in got


def test_challenges_and_verifiers_work_once(clavis, default, web_client):
    rp = web_rp(clavis, default, web_client)
    browser = Browser()
    challenge = to_login(clavis, browser, rp.authorization_url())
    to_auth = default.app.accept_login(challenge)
    clavis.sensitive.add(query(to_auth)["login_verifier"])
    resp = default.app.call("PUT", "login/accept", "login_challenge", challenge, {"subject": "mallory"})
    assert resp.status_code in (409, 410), resp.text

    to_consent = browser.redirected(to_auth, clavis.consent_url)
    resp = browser.get(to_auth)  # the login verifier again
    assert resp.status_code == 400 and "Location" not in resp.headers, resp.text
    challenge = query(to_consent)["consent_challenge"]
    clavis.sensitive.add(challenge)
    to_auth = default.app.accept_consent(challenge, RP_SCOPE.split())
    clavis.sensitive.add(query(to_auth)["consent_verifier"])
    resp = default.app.call("PUT", "consent/accept", "consent_challenge", challenge, {"grant_scope": ["openid"]})
    assert resp.status_code in (409, 410), resp.text

    back = browser.redirected(to_auth, RP_REDIRECT)
    clavis.sensitive.add(query(back)["code"])
    resp = browser.get(to_auth)  # the consent verifier again: no second code
    assert resp.status_code == 400 and "Location" not in resp.headers, resp.text
    # The one code is good, with what was consented the first time.
    token = rp.fetch_token(back)
    assert set(token["scope"].split()) == set(RP_SCOPE.split())
    validate_id_token(token["id_token"], default.metadata, default.keys, rp.client_id, token["access_token"], rp.nonce)


def test_remembered_login_is_skipped_next_time(clavis, default, acme, web_client):
    browser = Browser()
    rp = web_rp(clavis, default, web_client)
    first = rp.fetch_token(sign_in(clavis, default.app, browser, rp, rp.authorization_url(), remember=True))
    first_id = validate_id_token(
        first["id_token"], default.metadata, default.keys, rp.client_id, first["access_token"], rp.nonce
    )

    # Same browser, new authorization request: the login app is told the user is logged in.
    rp = web_rp(clavis, default, web_client)
    again = rp.fetch_token(sign_in(clavis, default.app, browser, rp, rp.authorization_url(), skip=True))
    again_id = validate_id_token(
        again["id_token"], default.metadata, default.keys, rp.client_id, again["access_token"], rp.nonce
    )
    assert again_id["sid"] == first_id["sid"], "one login session"
    assert again_id["auth_time"] == first_id["auth_time"], "no new authentication happened"

    # prompt=login asks for a new authentication despite the session.
    rp = web_rp(clavis, default, web_client)
    sign_in(clavis, default.app, browser, rp, rp.authorization_url(prompt="login"))
    # The session belongs to its tenant: acme's login app sees no logged-in user.
    client = acme.create_client(**rp_client_body(name="acme-rp"))
    rp = web_rp(clavis, acme, client)
    sign_in(clavis, acme.app, browser, rp, rp.authorization_url())
    # Nor does another browser.
    rp = web_rp(clavis, default, web_client)
    sign_in(clavis, default.app, Browser(), rp, rp.authorization_url())


def test_another_clients_refresh_attempt_leaves_the_token_to_its_owner(clavis, default, web_client):
    rp, token = signed_in(clavis, default, web_client)
    other_client = default.create_client(**rp_client_body(name="other"))
    other = RelyingParty(clavis, default.metadata, other_client, "client_secret_basic")
    error = oauth_error(other.refresh, token["refresh_token"])
    assert error.error == "invalid_grant", error.description
    # RFC 6749 §6: the token is bound to its client. Another client's request must not
    # spend it (as it must not revoke it, see test_revocation_by_the_owning_client):
    # otherwise the owner's next refresh counts as reuse and its family is revoked.
    assert rp.introspect(token["refresh_token"])["active"] is True, "another client's request spent the token"
    refreshed = rp.refresh(token["refresh_token"])
    assert rp.introspect(refreshed["refresh_token"])["active"] is True


def test_tokens_of_a_suspended_client_are_inactive(clavis, default):
    client = default.create_client(**rp_client_body(name="to-suspend"))
    rp, token = signed_in(clavis, default, client)
    assert default.introspect_as_admin(token["refresh_token"])["active"] is True
    AdminApi(clavis, default.admin_token).update_client(client["client_id"], status="suspended")

    assert rp.userinfo(token["access_token"]).status_code == 401
    assert default.introspect_as_admin(token["access_token"]) == {"active": False}
    error = oauth_error(rp.refresh, token["refresh_token"])
    assert error.error == "invalid_client", error.description
    # The refresh token cannot be used any more, so it is not active (RFC 7662 §2.2),
    # exactly like the access token next to it.
    assert default.introspect_as_admin(token["refresh_token"]) == {"active": False}


def test_code_flow_in_a_second_tenant(clavis, default, acme):
    issuer = clavis.public_url + "/t/acme"
    assert acme.metadata["issuer"] == issuer
    client = acme.create_client(**rp_client_body(name="acme-rp"))
    rp = web_rp(clavis, acme, client)
    browser = Browser()

    challenge = to_login(clavis, browser, rp.authorization_url())
    # The default tenant's login & consent app cannot see acme's login request.
    assert default.app.call("GET", "login", "login_challenge", challenge).status_code == 404
    back = sign_in(clavis, acme.app, browser, rp, login_challenge=challenge)
    assert query(back)["iss"] == issuer

    # acme's code is not redeemable at the default issuer: the client does not exist there.
    at_root = RelyingParty(clavis, default.metadata, client, "client_secret_basic")
    at_root.state = rp.state
    error = oauth_error(at_root.fetch_token, back, code_verifier=rp.code_verifier)
    assert error.error == "invalid_client", error.description

    token = rp.fetch_token(back)
    access = token["access_token"]
    claims = validate_id_token(token["id_token"], acme.metadata, acme.keys, rp.client_id, access, rp.nonce)
    assert claims["iss"] == issuer
    assert rp.userinfo(token["access_token"]).json() == {"sub": SUBJECT, "email": EMAIL}
    assert rp.introspect(token["access_token"])["iss"] == issuer
    # The default issuer knows nothing of acme's tokens.
    assert default.introspect_as_admin(token["access_token"]) == {"active": False}
    assert default.introspect_as_admin(token["refresh_token"]) == {"active": False}
    resp = http().get(
        default.metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10
    )
    assert resp.status_code == 401

    # Its ID token does not validate against the default tenant's keys: not as a set
    # (looked up by kid)...
    assert default.keys.keys, "the default tenant's JWKS is empty"
    with pytest.raises((JoseError, ValueError)):
        validate_id_token(token["id_token"], default.metadata, default.keys, rp.client_id, access, rp.nonce)
    # ...nor with any single one of them, whatever its kid.
    # (Keys of the token's algorithm fail on the signature; authlib will not even try
    # the others.)
    alg = jwt_header(token["id_token"])["alg"]
    same_alg = [key for key in default.keys.keys if key.as_dict()["alg"] == alg]
    assert same_alg, "the other tenant has a key of this algorithm too"
    for key in same_alg:
        with pytest.raises(BadSignatureError):
            jwt.decode(token["id_token"], key)

    refreshed = rp.refresh(token["refresh_token"])
    validate_id_token(refreshed["id_token"], acme.metadata, acme.keys, rp.client_id, refreshed["access_token"], None)
    assert rp.revoke(refreshed["refresh_token"]).status_code == 200
    assert rp.introspect(refreshed["access_token"])["active"] is False


def patch_hydra_client(clavis, tenant, client_id, ops):
    """RFC 6902 operations on a client through the Hydra admin API (fields only it has)."""
    resp = http().patch(
        f"{clavis.admin_url}/admin/clients/{client_id}",
        json=ops,
        headers={"Authorization": f"Bearer {tenant.admin_token}"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
def test_id_tokens_and_signed_userinfo_in_the_clients_algorithm(clavis, default, alg):
    """OpenID Connect Registration §2: id_token_signed_response_alg and
    userinfo_signed_response_alg, set through the Hydra API, validated by Authlib."""
    client = default.create_client(**rp_client_body(name=f"rp-{alg}"))
    patch = [
        {"op": "add", "path": "/id_token_signed_response_alg", "value": alg},  # absent until set
        {"op": "replace", "path": "/userinfo_signed_response_alg", "value": alg},
    ]
    patch_hydra_client(clavis, default, client["client_id"], patch)
    rp, token = signed_in(clavis, default, client)
    validate_id_token(token["id_token"], default.metadata, default.keys, rp.client_id, token["access_token"], rp.nonce, alg)
    resp = rp.userinfo(token["access_token"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/jwt"
    remember_tokens(clavis, {"id_token": resp.text})
    info = jwt.decode(resp.text, default.keys)
    assert info.header["alg"] == alg
    assert (info["sub"], info["email"]) == (SUBJECT, EMAIL)
    assert (info["iss"], info["aud"]) == (default.metadata["issuer"], rp.client_id), "OpenID Connect Core §5.3.2"


def test_a_request_object_signed_by_authlib(clavis, default):
    """RFC 9101: Authlib builds the authorization request (state, nonce, PKCE), the relying
    party signs it as a request object with its RSA key (Authlib's JOSE), and the URL carries
    only client_id, response_type, scope and the object."""
    key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    public = dict(key.as_dict(is_private=False), kid="rp-jar-1", alg="PS256", use="sig")
    client = default.create_client(**rp_client_body(name="jar-rp"))
    patch = [
        {"op": "replace", "path": "/jwks", "value": {"keys": [public]}},
        {"op": "replace", "path": "/request_object_signing_alg", "value": "PS256"},
    ]
    patch_hydra_client(clavis, default, client["client_id"], patch)
    rp = web_rp(clavis, default, client)
    claims = dict(query(rp.authorization_url()), iss=rp.client_id, aud=default.metadata["issuer"], exp=int(time.time()) + 300)
    signer = JsonWebToken(["PS256", "RS256"])
    endpoint = default.metadata["authorization_endpoint"]
    outside = {"client_id": rp.client_id, "response_type": "code", "scope": "openid"}

    request = signer.encode({"alg": "PS256", "kid": "rp-jar-1"}, claims, key).decode()
    back = sign_in(clavis, default.app, Browser(), rp, f"{endpoint}?{urlencode(dict(outside, request=request))}")
    assert query(back)["state"] == rp.state
    token = rp.fetch_token(back)
    validate_id_token(token["id_token"], default.metadata, default.keys, rp.client_id, token["access_token"], rp.nonce)

    # RS256 is not the client's request_object_signing_alg: refused, at the client.
    wrong = signer.encode({"alg": "RS256", "kid": "rp-jar-1"}, claims, key).decode()
    resp = Browser().get(f"{endpoint}?{urlencode(dict(outside, request=wrong, redirect_uri=RP_REDIRECT, state='outer-1'))}")
    assert resp.status_code == 303, resp.text
    got = query(resp.headers["Location"])
    assert (got["error"], got["state"]) == ("invalid_request_object", "outer-1"), got


# Keep this test last: it stops the module's server, so that the log it reads is
# complete (everything the server wrote up to its exit), covering every test above.
def test_form_post_and_hybrid_responses_validate_with_authlib(clavis, default):
    """`response_mode=form_post` (OAuth 2.0 Form Post Response Mode) and the hybrid
    `code id_token` (OpenID Connect Core §3.3): the ID token that comes with the code is
    validated by Authlib's `HybridIDToken` (c_hash against the code, nonce), then the code
    is redeemed as usual."""
    from authlib.oidc.core import HybridIDToken

    client = default.create_client(**rp_client_body())
    patch_hydra_client(clavis, default, client["client_id"], [{"op": "replace", "path": "/response_types", "value": ["code", "code id_token"]}])
    for response_type in ["code", "code id_token"]:
        rp = web_rp(clavis, default, client)
        # Authlib adds PKCE for response_type=code only: for the hybrid type it is given here.
        pkce = {"code_challenge": create_s256_code_challenge(rp.code_verifier), "code_challenge_method": "S256"}
        url = rp.authorization_url(pkce=False, response_type=response_type, response_mode="form_post", **pkce)
        fields = sign_in(clavis, default.app, Browser(), rp, url, form_post=True)
        assert fields["state"] == rp.state and fields["iss"] == default.metadata["issuer"], fields
        if response_type == "code id_token":
            remember_tokens(clavis, {"id_token": fields["id_token"]})
            claims = jwt.decode(
                fields["id_token"],
                default.keys,
                claims_cls=HybridIDToken,
                claims_options={"iss": {"essential": True, "value": default.metadata["issuer"]}, "c_hash": {"essential": True}},
                claims_params={"nonce": rp.nonce, "client_id": rp.client_id, "code": fields["code"]},
            )
            claims.validate()
            assert claims.header["alg"] == "RS256"
        else:
            assert "id_token" not in fields
        token = rp.fetch_token(RP_REDIRECT + "?" + urlencode({"code": fields["code"], "state": fields["state"]}))
        validate_id_token(token["id_token"], default.metadata, default.keys, rp.client_id, token["access_token"], rp.nonce)


def test_remembered_consents_as_the_hydra_sdk_lists_them(clavis, default):
    """listOAuth2ConsentSessions through the official SDK, which parses every field."""
    from ory_hydra_client import ApiClient, Configuration, OAuth2Api

    client = default.create_client(**rp_client_body(name="consent-list"))
    rp = web_rp(clavis, default, client)
    sign_in(clavis, default.app, Browser(), rp, rp.authorization_url(), remember_consent=True)
    configuration = Configuration(host=clavis.admin_url)
    with ApiClient(configuration, header_name="Authorization", header_value=f"Bearer {default.admin_token}") as api_client:
        sessions = OAuth2Api(api_client).list_o_auth2_consent_sessions(subject=SUBJECT)
    mine = [s for s in sessions if s.consent_request.client.client_id == client["client_id"]]
    assert len(mine) == 1, sessions
    assert mine[0].remember and mine[0].grant_scope == RP_SCOPE.split() and mine[0].consent_request.subject == SUBJECT
    assert mine[0].handled_at is not None and mine[0].session.id_token == {"email": EMAIL}


def test_a_verifiable_credential_through_the_hydra_sdk(clavis, default):
    """createVerifiableCredential: primed with a c_nonce, then a joserfc-signed proof with the
    holder key in its header gets a credential that verifies against the tenant's JWKS."""
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import ECKey
    from ory_hydra_client import ApiClient, Configuration, OidcApi
    from ory_hydra_client.exceptions import ApiException
    from ory_hydra_client.models import CreateVerifiableCredentialRequestBody, VerifiableCredentialProof

    client = default.create_client(**rp_client_body(name="vc-holder"))
    _, token = signed_in(clavis, default, client)
    types = ["VerifiableCredential", "UserInfoCredential"]
    configuration = Configuration(host=default.metadata["issuer"])
    with ApiClient(configuration, header_name="Authorization", header_value=f"Bearer {token['access_token']}") as api_client:
        oidc = OidcApi(api_client)
        with pytest.raises(ApiException) as raised:
            oidc.create_verifiable_credential(CreateVerifiableCredentialRequestBody(format="jwt_vc_json", types=types))
        priming = json.loads(raised.value.body)
        assert raised.value.status == 400 and priming["error"] == "missing_proof" and priming["c_nonce_expires_in"] > 0
        holder = ECKey.generate_key("P-256")
        header = {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": holder.as_dict(private=False)}
        proof = jose_jwt.encode(header, {"nonce": priming["c_nonce"], "aud": default.metadata["issuer"], "iat": int(time.time())}, holder)
        answer = oidc.create_verifiable_credential(CreateVerifiableCredentialRequestBody(
            format="jwt_vc_json", types=types, proof=VerifiableCredentialProof(proof_type="jwt", jwt=proof)))
    assert answer.format == "jwt_vc_json"
    claims = jwt.decode(answer.credential_draft_00, fetch_jwks(default.metadata))
    claims.validate()
    subject = claims["vc"]["credentialSubject"]
    assert (subject["sub"], subject["email"]) == (SUBJECT, EMAIL)
    assert claims["sub"] == subject["id"] and subject["id"].startswith("did:jwk:")


def test_no_secret_or_token_in_the_log(clavis, default, acme, web_client):
    # Traffic of its own, so that it checks something when run alone too: a whole flow
    # in each tenant with refresh, a failed refresh, a code replay and a revocation.
    rp, token = signed_in(clavis, default, web_client)
    rotated = rp.refresh(token["refresh_token"])
    oauth_error(rp.refresh, token["refresh_token"])
    rp, token = signed_in(clavis, default, web_client)
    rp.revoke(token["refresh_token"])
    rp = web_rp(clavis, default, web_client)
    back = authorize(clavis, default.app, rp)
    rp.fetch_token(back)
    oauth_error(rp.fetch_token, back)
    rp, token = signed_in(clavis, acme, acme.create_client(**rp_client_body(name="acme-rp")))
    rp.refresh(token["refresh_token"])
    assert rotated["refresh_token"] in clavis.sensitive

    # Stops the server, then looks for every value in `clavis.sensitive` in its log.
    assert clavis.check_log() > 30  # the check really had values to look for
