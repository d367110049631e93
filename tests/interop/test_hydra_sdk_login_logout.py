"""A login & consent & logout app written against the official Ory Hydra SDK
(`ory-hydra-client`), the way Hydra's own reference apps are: `OAuth2Api`'s
get/accept/reject methods for login, consent and logout requests, and the revocation of a
subject's consent and login sessions. The SDK parses every
answer with its pydantic models (`OAuth2LoginRequest`, `OAuth2ConsentRequest`,
`OAuth2LogoutRequest`, `OAuth2RedirectTo`), so a shape Hydra's users could not read fails
here. The browser is played with `requests`, without following redirects.
"""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from ory_hydra_client import ApiClient, Configuration, OAuth2Api
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from ory_hydra_client.models import AcceptDeviceUserCodeRequest, AcceptOAuth2ConsentRequest, AcceptOAuth2LoginRequest

from clavis_interop import AdminApi, fetch_token, http, issuer_base

LOGIN_URL = "https://login.example/login"
CONSENT_URL = "https://login.example/consent"
LOGOUT_URL = "https://login.example/logout"
REDIRECT = "https://app.example.com/cb"
DEVICE_URL = "https://login.example/device"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
CLAVIS_ENV = {"CLAVIS_LOGOUT_URL": LOGOUT_URL, "CLAVIS_DEVICE_VERIFICATION_URL": DEVICE_URL}


def param(url, name):
    return parse_qs(urlsplit(url).query)[name][0]


@pytest.fixture(scope="module")
def admin_token(clavis):
    client = {"client_id": clavis.bootstrap_client_id, "client_secret": clavis.bootstrap_secret}
    return fetch_token(clavis, client, "client_secret_basic", issuer_base(clavis) + "/oauth2/token", scope="admin")[
        "access_token"
    ]


@pytest.fixture(scope="module")
def hydra(clavis, admin_token):
    api_client = ApiClient(Configuration(host=clavis.admin_url))
    api_client.default_headers["Authorization"] = f"Bearer {admin_token}"
    return OAuth2Api(api_client)


@pytest.fixture(scope="module")
def client(clavis, admin_token):
    return AdminApi(clavis, admin_token).create_client(
        grant_types=["authorization_code"], scopes=["openid"], redirect_uris=[REDIRECT]
    )


class Browser:
    def __init__(self):
        self.session = http()

    def redirect(self, url, to):
        resp = self.session.get(url, allow_redirects=False, timeout=10)
        assert resp.status_code == 303, f"{resp.status_code} {resp.text}"
        location = resp.headers["Location"]
        assert location.startswith(to), f"redirected to {location}, expected {to}"
        return location


def authorization_url(clavis, client):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "state": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{clavis.public_url}/oauth2/auth?{query}"


def sign_in(clavis, hydra, browser, client):
    """The code flow up to the code, with the SDK playing the login and consent app."""
    to_login = browser.redirect(authorization_url(clavis, client), LOGIN_URL)
    login = hydra.get_o_auth2_login_request(param(to_login, "login_challenge"))
    assert login.client.client_id == client["client_id"] and not login.skip
    accepted = hydra.accept_o_auth2_login_request(
        login.challenge, accept_o_auth2_login_request=AcceptOAuth2LoginRequest(subject="sdk-user", remember=True)
    )
    to_consent = browser.redirect(accepted.redirect_to, CONSENT_URL)
    consent = hydra.get_o_auth2_consent_request(param(to_consent, "consent_challenge"))
    assert consent.subject == "sdk-user" and consent.requested_scope == ["openid"]
    accepted = hydra.accept_o_auth2_consent_request(
        consent.challenge,
        accept_o_auth2_consent_request=AcceptOAuth2ConsentRequest(grant_scope=consent.requested_scope),
    )
    back = browser.redirect(accepted.redirect_to, REDIRECT)
    assert param(back, "code")


def test_login_consent_and_logout_through_the_sdk(clavis, hydra, client):
    browser = Browser()
    sign_in(clavis, hydra, browser, client)

    # Logout, rejected by the app: the session stays (a new login shows skip).
    to_app = browser.redirect(f"{clavis.public_url}/oauth2/sessions/logout", LOGOUT_URL)
    request = hydra.get_o_auth2_logout_request(param(to_app, "logout_challenge"))
    assert request.subject == "sdk-user" and request.sid and request.rp_initiated
    assert hydra.reject_o_auth2_logout_request(request.challenge) is None
    to_login = browser.redirect(authorization_url(clavis, client), LOGIN_URL)
    assert hydra.get_o_auth2_login_request(param(to_login, "login_challenge")).skip, "still logged in"

    # Accepted: the browser comes back, the session ends.
    to_app = browser.redirect(f"{clavis.public_url}/oauth2/sessions/logout", LOGOUT_URL)
    request = hydra.get_o_auth2_logout_request(param(to_app, "logout_challenge"))
    done = hydra.accept_o_auth2_logout_request(request.challenge)
    assert done.redirect_to.startswith(f"{clavis.public_url}/oauth2/sessions/logout?logout_verifier=")
    resp = browser.session.get(done.redirect_to, allow_redirects=False, timeout=10)
    assert resp.status_code == 200 and resp.json() == {"status": "logged_out"}, resp.text
    # No session left: logging out again has nothing for the app to decide.
    resp = browser.session.get(f"{clavis.public_url}/oauth2/sessions/logout", allow_redirects=False, timeout=10)
    assert resp.status_code == 303 and resp.headers["Location"] == LOGOUT_URL, resp.headers.get("Location")


def test_revoking_login_sessions_signs_the_subject_out(clavis, hydra, client):
    browser = Browser()
    sign_in(clavis, hydra, browser, client)
    to_login = browser.redirect(authorization_url(clavis, client), LOGIN_URL)
    assert hydra.get_o_auth2_login_request(param(to_login, "login_challenge")).skip
    assert hydra.revoke_o_auth2_consent_sessions(subject="sdk-user", client=client["client_id"]) is None
    assert hydra.revoke_o_auth2_login_sessions(subject="sdk-user") is None
    to_login = browser.redirect(authorization_url(clavis, client), LOGIN_URL)
    assert not hydra.get_o_auth2_login_request(param(to_login, "login_challenge")).skip, "signed out everywhere"


def test_device_flow_with_authlib_as_the_device_and_the_sdk_as_the_login_app(clavis, hydra, admin_token):
    """RFC 8628: authlib asks and polls as the device; the SDK's acceptUserCodeRequest, login
    and consent operations play the device page and the login app."""
    tv = AdminApi(clavis, admin_token).create_client(
        grant_types=[DEVICE_CODE, "refresh_token"], scopes=["openid", "offline_access"], redirect_uris=[REDIRECT],
        is_confidential=False, client_auth_methods=["none"],
    )
    issuer = issuer_base(clavis)
    token_endpoint = f"{issuer}/oauth2/token"
    device = OAuth2Session(tv["client_id"], token_endpoint_auth_method="none", scope="openid offline_access")
    resp = device.post(f"{issuer}/oauth2/device/auth", data={"client_id": tv["client_id"], "scope": "openid offline_access"}, withhold_token=True, timeout=10)
    assert resp.status_code == 200, resp.text
    grant = resp.json()
    assert grant["verification_uri"] == f"{issuer}/oauth2/device/verify" and grant["interval"] == 5
    with pytest.raises(OAuthError) as raised:
        device.fetch_token(token_endpoint, grant_type=DEVICE_CODE, device_code=grant["device_code"])
    assert raised.value.error == "authorization_pending"

    browser = Browser()
    to_page = browser.redirect(grant["verification_uri_complete"], DEVICE_URL)
    assert param(to_page, "user_code") == grant["user_code"]
    accepted = hydra.accept_user_code_request(
        param(to_page, "device_challenge"), accept_device_user_code_request=AcceptDeviceUserCodeRequest(user_code=grant["user_code"]))
    to_login = browser.redirect(accepted.redirect_to, LOGIN_URL)
    login = hydra.get_o_auth2_login_request(param(to_login, "login_challenge"))
    assert login.client.client_id == tv["client_id"] and login.requested_scope == ["openid", "offline_access"]
    accepted = hydra.accept_o_auth2_login_request(login.challenge, accept_o_auth2_login_request=AcceptOAuth2LoginRequest(subject="tv-user"))
    to_consent = browser.redirect(accepted.redirect_to, CONSENT_URL)
    consent = hydra.get_o_auth2_consent_request(param(to_consent, "consent_challenge"))
    accepted = hydra.accept_o_auth2_consent_request(
        consent.challenge, accept_o_auth2_consent_request=AcceptOAuth2ConsentRequest(grant_scope=consent.requested_scope))
    browser.redirect(accepted.redirect_to, f"{issuer}/oauth2/device/done")

    token = device.fetch_token(token_endpoint, grant_type=DEVICE_CODE, device_code=grant["device_code"])
    clavis.sensitive |= {token["access_token"], token["refresh_token"], grant["device_code"]}
    assert token["scope"] == "openid offline_access" and token["id_token"] and token["refresh_token"]
    assert hydra.introspect_o_auth2_token(token=token["access_token"]).sub == "tv-user"
    with pytest.raises(OAuthError) as raised:
        device.fetch_token(token_endpoint, grant_type=DEVICE_CODE, device_code=grant["device_code"])
    assert raised.value.error == "invalid_grant", "redeemed once"


def test_no_secret_or_token_in_the_log(clavis):
    assert clavis.check_log() >= 3
