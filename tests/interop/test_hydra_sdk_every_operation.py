"""Every operation of the official `ory-hydra-client` SDK — its 50: OAuth2Api 31, OidcApi 8,
JwkApi 7, WellknownApi 1, MetadataApi 3 — each called once with realistic input, in the
order a deployment meets them, against one server.

The three operations that answer with a redirect (`oAuth2Authorize`,
`performOAuth2DeviceVerificationFlow`, `revokeOidcSession`) are checked by their 303 with
a client that does not follow it: the SDK would follow it to a login app that does not
exist here.
"""

import base64
import datetime
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import ory_hydra_client as sdk
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey
from ory_hydra_client.exceptions import ApiException
from ory_hydra_client.models import (
    AcceptDeviceUserCodeRequest,
    AcceptOAuth2ConsentRequest,
    AcceptOAuth2ConsentRequestSession,
    AcceptOAuth2LoginRequest,
    CreateJsonWebKeySet,
    CreateVerifiableCredentialRequestBody,
    JsonPatch,
    JsonWebKey,
    JsonWebKeySet,
    OAuth2Client,
    OAuth2ClientTokenLifespans,
    RejectOAuth2Request,
    TrustOAuth2JwtGrantIssuer,
    VerifiableCredentialProof,
)

from clavis_interop import basic_credentials, fetch_token, http, issuer_base

DEVICE_URL = "https://login.example/device"
CLAVIS_ENV = {"CLAVIS_DEVICE_VERIFICATION_URL": DEVICE_URL, "CLAVIS_LOGOUT_URL": "https://login.example/logout", "CLAVIS_DCR_ENABLED": "true"}
REDIRECT = "https://app.example/cb"
VC_TYPES = ["VerifiableCredential", "UserInfoCredential"]


def param(url, name):
    return parse_qs(urlsplit(url).query)[name][0]


def b64(n):
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


def private_ec_jwk(kid):
    key = ec.generate_private_key(ec.SECP256R1())
    n = key.public_key().public_numbers()
    d = key.private_numbers().private_value
    return JsonWebKey(kty="EC", crv="P-256", kid=kid, alg="ES256", use="sig", x=b64(n.x), y=b64(n.y), d=b64(d))


class Calls:
    """Runs each operation once and remembers its name; a failure fails the test at once."""

    def __init__(self):
        self.names = set()

    def __call__(self, name, fn):
        assert name not in self.names, f"{name} twice"
        self.names.add(name)
        try:
            return fn()
        except ApiException as e:
            raise AssertionError(f"{name}: {e.status} {e.body}") from e


def test_every_sdk_operation_answers_as_hydra_documents(clavis):
    call = Calls()
    pub, issuer = clavis.public_url, issuer_base(clavis)
    admin_client = {"client_id": clavis.bootstrap_client_id, "client_secret": clavis.bootstrap_secret}
    admin_token = fetch_token(clavis, admin_client, "client_secret_basic", f"{issuer}/oauth2/token", scope="admin")["access_token"]
    admin = sdk.ApiClient(sdk.Configuration(host=clavis.admin_url), header_name="Authorization", header_value=f"Bearer {admin_token}")
    public = sdk.ApiClient(sdk.Configuration(host=pub))
    oauth, jwk, oidc = sdk.OAuth2Api(admin), sdk.JwkApi(admin), sdk.OidcApi(public)
    browser = http()

    def redirect(url):
        resp = browser.get(url, allow_redirects=False, timeout=10)
        assert resp.status_code == 303, f"{url}: {resp.status_code} {resp.text}"
        return resp.headers["Location"]

    def as_client(client):
        return sdk.ApiClient(sdk.Configuration(host=pub, username=client.client_id, password=client.client_secret))

    # Clients.
    client = call("create_o_auth2_client", lambda: oauth.create_o_auth2_client(OAuth2Client(
        client_name="web", grant_types=["authorization_code", "refresh_token"], response_types=["code"], scope="openid offline_access",
        redirect_uris=[REDIRECT], token_endpoint_auth_method="client_secret_basic")))
    clavis.sensitive |= {client.client_secret, basic_credentials(client.client_id, client.client_secret)}
    assert call("get_o_auth2_client", lambda: oauth.get_o_auth2_client(client.client_id)).client_name == "web"
    assert client.client_id in [c.client_id for c in call("list_o_auth2_clients", lambda: oauth.list_o_auth2_clients(page_size=500))]
    replaced = OAuth2Client(client_name="web2", grant_types=client.grant_types, scope=client.scope, redirect_uris=[REDIRECT],
                            token_endpoint_auth_method="client_secret_basic", client_secret=client.client_secret)
    assert call("set_o_auth2_client", lambda: oauth.set_o_auth2_client(client.client_id, replaced)).client_name == "web2"
    patch = [JsonPatch(op="replace", path="/client_name", value="web3")]
    assert call("patch_o_auth2_client", lambda: oauth.patch_o_auth2_client(client.client_id, patch)).client_name == "web3"
    lifespans = OAuth2ClientTokenLifespans(authorization_code_grant_access_token_lifespan="30m")
    call("set_o_auth2_client_lifespans", lambda: oauth.set_o_auth2_client_lifespans(client.client_id, lifespans))

    # The code flow, the SDK as the login and consent app.
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()

    def auth_url(state, extra=""):
        return (f"{pub}/oauth2/auth?response_type=code&client_id={client.client_id}&redirect_uri={REDIRECT}&scope=openid+offline_access"
                f"&state={state}&code_challenge={challenge}&code_challenge_method=S256{extra}")

    to_login = call("o_auth2_authorize", lambda: redirect(auth_url("state-0123456789")))
    login = call("get_o_auth2_login_request", lambda: oauth.get_o_auth2_login_request(param(to_login, "login_challenge")))
    accept = AcceptOAuth2LoginRequest(subject="alice", remember=True, remember_for=3600)
    done = call("accept_o_auth2_login_request", lambda: oauth.accept_o_auth2_login_request(login.challenge, accept_o_auth2_login_request=accept))
    consent = call("get_o_auth2_consent_request", lambda: oauth.get_o_auth2_consent_request(param(redirect(done.redirect_to), "consent_challenge")))
    grant = AcceptOAuth2ConsentRequest(grant_scope=consent.requested_scope, remember=True, remember_for=3600,
                                       session=AcceptOAuth2ConsentRequestSession(id_token={"email": "alice@example.com"}))
    done = call("accept_o_auth2_consent_request", lambda: oauth.accept_o_auth2_consent_request(consent.challenge, accept_o_auth2_consent_request=grant))
    code = param(redirect(done.redirect_to), "code")
    # The SDK's token operation has no `code_verifier`; PKCE needs it, so the code is redeemed
    # by hand and the SDK refreshes.
    resp = browser.post(f"{issuer}/oauth2/token", auth=(client.client_id, client.client_secret), timeout=10,
                        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert resp.status_code == 200, resp.text
    refresh = resp.json()["refresh_token"]
    clavis.sensitive |= {refresh, resp.json()["access_token"]}
    tokens = call("oauth2_token_exchange", lambda: sdk.OAuth2Api(as_client(client)).oauth2_token_exchange(grant_type="refresh_token", refresh_token=refresh))
    clavis.sensitive |= {tokens.access_token, tokens.refresh_token}
    assert call("introspect_o_auth2_token", lambda: oauth.introspect_o_auth2_token(token=tokens.access_token)).sub == "alice"
    user = sdk.OidcApi(sdk.ApiClient(sdk.Configuration(host=pub), header_name="Authorization", header_value=f"Bearer {tokens.access_token}"))
    assert call("get_oidc_user_info", lambda: user.get_oidc_user_info()).email == "alice@example.com"

    def credential():
        try:
            user.create_verifiable_credential(CreateVerifiableCredentialRequestBody(format="jwt_vc_json", types=VC_TYPES))
            raise AssertionError("a request without a proof is primed")
        except ApiException as e:
            nonce = json.loads(e.body)["c_nonce"]
        holder = ECKey.generate_key("P-256")
        proof = jose_jwt.encode({"alg": "ES256", "jwk": holder.as_dict(private=False)}, {"nonce": nonce, "iat": int(time.time())}, holder)
        body = CreateVerifiableCredentialRequestBody(format="jwt_vc_json", types=VC_TYPES, proof=VerifiableCredentialProof(proof_type="jwt", jwt=proof))
        return user.create_verifiable_credential(body)

    assert call("create_verifiable_credential", credential).format == "jwt_vc_json"
    assert call("list_o_auth2_consent_sessions", lambda: oauth.list_o_auth2_consent_sessions(subject="alice"))[0].remember
    call("revoke_o_auth2_token", lambda: sdk.OAuth2Api(as_client(client)).revoke_o_auth2_token(token=tokens.refresh_token))
    call("revoke_o_auth2_consent_sessions", lambda: oauth.revoke_o_auth2_consent_sessions(subject="alice", client=client.client_id))

    # Rejections.
    to_login = redirect(auth_url("state-1123456789", "&prompt=login"))
    reject = RejectOAuth2Request(error="access_denied")
    call("reject_o_auth2_login_request", lambda: oauth.reject_o_auth2_login_request(param(to_login, "login_challenge"), reject_o_auth2_request=reject))
    to_login = redirect(auth_url("state-2123456789", "&prompt=consent"))
    done = oauth.accept_o_auth2_login_request(param(to_login, "login_challenge"), accept_o_auth2_login_request=AcceptOAuth2LoginRequest(subject="alice"))
    consent_challenge = param(redirect(done.redirect_to), "consent_challenge")
    call("reject_o_auth2_consent_request", lambda: oauth.reject_o_auth2_consent_request(consent_challenge, reject_o_auth2_request=reject))

    # Logout: refused once, then accepted; the SDK's own logout operation is the same URL.
    logout = call("get_o_auth2_logout_request", lambda: oauth.get_o_auth2_logout_request(param(redirect(f"{pub}/oauth2/sessions/logout"), "logout_challenge")))
    assert logout.subject == "alice"
    call("reject_o_auth2_logout_request", lambda: oauth.reject_o_auth2_logout_request(logout.challenge))
    challenge2 = param(call("revoke_oidc_session", lambda: redirect(f"{pub}/oauth2/sessions/logout")), "logout_challenge")
    call("accept_o_auth2_logout_request", lambda: oauth.accept_o_auth2_logout_request(challenge2))
    call("revoke_o_auth2_login_sessions", lambda: oauth.revoke_o_auth2_login_sessions(subject="alice"))
    call("delete_o_auth2_token", lambda: oauth.delete_o_auth2_token(client.client_id))

    # The device flow.
    tv = oauth.create_o_auth2_client(OAuth2Client(client_name="tv", grant_types=["urn:ietf:params:oauth:grant-type:device_code"], scope="openid",
                                                  redirect_uris=["https://tv.example/cb"], token_endpoint_auth_method="client_secret_basic"))
    basic = basic_credentials(tv.client_id, tv.client_secret)
    clavis.sensitive |= {tv.client_secret, basic}
    device = call("o_auth2_device_flow", lambda: sdk.OAuth2Api(public).o_auth2_device_flow(_headers={"Authorization": f"Basic {basic}"}))
    clavis.sensitive.add(device.device_code)
    to_page = call("perform_o_auth2_device_verification_flow", lambda: redirect(device.verification_uri_complete))
    assert to_page.startswith(DEVICE_URL)
    accepted = call("accept_user_code_request", lambda: oauth.accept_user_code_request(
        param(to_page, "device_challenge"), accept_device_user_code_request=AcceptDeviceUserCodeRequest(user_code=device.user_code)))
    assert "device_verifier=" in accepted.redirect_to

    # Trusted JWT grant issuers.
    key = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    trust = TrustOAuth2JwtGrantIssuer(issuer="https://partner.example", subject="bob", scope=["openid"],
                                      jwk=JsonWebKey(kty="EC", crv="P-256", x=b64(key.x), y=b64(key.y), kid="partner", alg="ES256", use="sig"),
                                      expires_at=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    trusted = call("trust_o_auth2_jwt_grant_issuer", lambda: oauth.trust_o_auth2_jwt_grant_issuer(trust))
    assert call("get_trusted_o_auth2_jwt_grant_issuer", lambda: oauth.get_trusted_o_auth2_jwt_grant_issuer(trusted.id)).subject == "bob"
    assert [t.id for t in call("list_trusted_o_auth2_jwt_grant_issuers", lambda: oauth.list_trusted_o_auth2_jwt_grant_issuers())] == [trusted.id]
    call("delete_trusted_o_auth2_jwt_grant_issuer", lambda: oauth.delete_trusted_o_auth2_jwt_grant_issuer(trusted.id))
    call("delete_o_auth2_client", lambda: oauth.delete_o_auth2_client(client.client_id))

    # Discovery and dynamic registration.
    assert call("discover_oidc_configuration", lambda: oidc.discover_oidc_configuration()).issuer == issuer
    registered = call("create_oidc_dynamic_client", lambda: oidc.create_oidc_dynamic_client(OAuth2Client(client_name="dyn", redirect_uris=[REDIRECT])))
    clavis.sensitive |= {registered.registration_access_token, registered.client_secret}
    manage = sdk.OidcApi(sdk.ApiClient(sdk.Configuration(host=pub), header_name="Authorization", header_value=f"Bearer {registered.registration_access_token}"))
    assert call("get_oidc_dynamic_client", lambda: manage.get_oidc_dynamic_client(registered.client_id)).client_name == "dyn"
    updated = call("set_oidc_dynamic_client", lambda: manage.set_oidc_dynamic_client(registered.client_id, OAuth2Client(client_name="dyn2", redirect_uris=[REDIRECT])))
    assert updated.client_name == "dyn2"
    if updated.registration_access_token:
        clavis.sensitive.add(updated.registration_access_token)
        manage = sdk.OidcApi(sdk.ApiClient(sdk.Configuration(host=pub), header_name="Authorization", header_value=f"Bearer {updated.registration_access_token}"))
    call("delete_oidc_dynamic_client", lambda: manage.delete_oidc_dynamic_client(registered.client_id))

    # Signing keys.
    assert call("get_json_web_key_set", lambda: jwk.get_json_web_key_set("hydra.openid.id-token")).keys[0].alg == "RS256"
    made = call("create_json_web_key_set", lambda: jwk.create_json_web_key_set("hydra.jwt.access-token", CreateJsonWebKeySet(alg="ES256", kid="made", use="sig")))
    assert made.keys[0].kid == "made" and made.keys[0].d is None
    assert call("get_json_web_key", lambda: jwk.get_json_web_key("hydra.jwt.access-token", "made")).keys[0].kid == "made"
    assert call("set_json_web_key", lambda: jwk.set_json_web_key("hydra.openid.id-token", "brought", private_ec_jwk("brought"))).kid == "brought"
    whole = call("set_json_web_key_set", lambda: jwk.set_json_web_key_set("hydra.openid.id-token", JsonWebKeySet(keys=[private_ec_jwk("set")])))
    assert [k.kid for k in whole.keys] == ["set"]
    call("delete_json_web_key", lambda: jwk.delete_json_web_key("hydra.openid.id-token", "brought"))
    assert "set" in [k.kid for k in call("discover_json_web_keys", lambda: sdk.WellknownApi(public).discover_json_web_keys()).keys]
    for api in (sdk.MetadataApi(admin), sdk.MetadataApi(public)):
        call(f"get_version {api.api_client.configuration.host}", lambda: api.get_version())
        call(f"is_alive {api.api_client.configuration.host}", lambda: api.is_alive())
        call(f"is_ready {api.api_client.configuration.host}", lambda: api.is_ready())
    call("delete_json_web_key_set", lambda: jwk.delete_json_web_key_set("hydra.jwt.access-token"))

    operations = {name.split(" ")[0] for name in call.names}
    expected = {
        name for api in (sdk.OAuth2Api, sdk.OidcApi, sdk.JwkApi, sdk.WellknownApi, sdk.MetadataApi) for name in dir(api)
        if not name.startswith("_") and not name.endswith(("_with_http_info", "_without_preload_content"))
    }
    assert len(expected) == 50 and operations == expected, expected ^ operations


def test_no_secret_or_token_in_the_log(clavis):
    assert clavis.check_log() >= 1
