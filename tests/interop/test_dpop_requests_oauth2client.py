"""DPoP (RFC 9449) with a client library we did not write: `requests-oauth2client`, whose
`DPoPKey` / `DPoPToken` make the proofs, follow `use_dpop_nonce` at the authorization
server and at the resource server, put `dpop_jkt` in authorization requests and proofs
in PAR, and keep a refresh token's key. The server of this module requires nonces, so
every request goes through the library's nonce handling. Access tokens are checked with
`joserfc` against the server's JWKS.
"""

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from requests_oauth2client import ClientSecretBasic, DPoPKey, DPoPToken, OAuth2Client
from requests_oauth2client.exceptions import EndpointError

from clavis_interop import AdminApi, discover, fetch_token, http
from test_authlib_code_flow import Browser, LoginConsentApp, query

CLAVIS_ENV = {"CLAVIS_DPOP_REQUIRE_NONCE": "true"}
# `testing=True` below lets the library talk plain HTTP to the loopback server (it wants https).
REDIRECT = "https://rp.example/cb"


@pytest.fixture(scope="module")
def setup(clavis):
    metadata = discover(clavis)
    admin = {"client_id": clavis.bootstrap_client_id, "client_secret": clavis.bootstrap_secret}
    token = fetch_token(clavis, admin, "client_secret_basic", metadata["token_endpoint"], scope="admin")
    api = AdminApi(clavis, token["access_token"])
    metadata["jwks"] = http().get(metadata["jwks_uri"], timeout=10).json()
    jwks = KeySet.import_key_set(metadata["jwks"])
    return metadata, api, LoginConsentApp(clavis, token["access_token"]), jwks


def verified_claims(jwks, access_token):
    return jwt.decode(access_token, jwks).claims


def remember(clavis, token):
    clavis.sensitive |= {t for t in (token.access_token, token.refresh_token) if t}
    return token


def sign_in(clavis, app, authorization_uri):
    """The browser's trip through login and consent; returns the redirect to the client."""
    browser = Browser()
    challenge = query(browser.redirected(authorization_uri, clavis.login_url))["login_challenge"]
    to_consent = browser.redirected(app.accept_login(challenge), clavis.consent_url)
    challenge = query(to_consent)["consent_challenge"]
    consent = app.consent_request(challenge)
    back = app.accept_consent(challenge, consent["requested_scope"])
    resp = browser.get(back)
    assert resp.status_code == 303, resp.text
    return resp.headers["Location"]


def test_discovery_announces_dpop(setup):
    metadata = setup[0]
    assert "ES256" in metadata["dpop_signing_alg_values_supported"]


def test_client_credentials_token_is_bound_to_the_librarys_key(clavis, setup):
    metadata, api, _, jwks = setup
    c = api.create_client(name="dpop-machine", client_auth_methods=["client_secret_basic"])
    client = OAuth2Client(metadata["token_endpoint"], auth=ClientSecretBasic(c["client_id"], c["client_secret"]),
                          dpop_bound_access_tokens=True, testing=True)
    token = remember(clavis, client.client_credentials(scope="read"))
    assert isinstance(token, DPoPToken) and token.token_type == "DPoP"
    assert verified_claims(jwks, token.access_token)["cnf"]["jkt"] == token.dpop_key.dpop_jkt
    # The library retried once with the server's nonce, and keeps it.
    assert token.dpop_key.as_nonce
    # A proof the library signs with a key the server has not seen, replayed: refused.
    key = DPoPKey.generate(alg="ES256")
    proof = str(key.proof(htm="POST", htu=metadata["token_endpoint"], nonce=token.dpop_key.as_nonce))
    form = {"grant_type": "client_credentials"}
    first = http().post(metadata["token_endpoint"], data=form, auth=(c["client_id"], c["client_secret"]), headers={"DPoP": proof}, timeout=10)
    assert first.status_code == 200, first.text
    clavis.sensitive.add(first.json()["access_token"])
    again = http().post(metadata["token_endpoint"], data=form, auth=(c["client_id"], c["client_secret"]), headers={"DPoP": proof}, timeout=10)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_dpop_proof")


def test_public_client_code_flow_with_dpop_jkt_userinfo_and_refresh(clavis, setup):
    metadata, api, app, jwks = setup
    c = api.create_client(
        name="dpop-spa", is_confidential=False, client_auth_methods=["none"], redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token"], scopes=["openid", "offline_access"],
    )
    client = OAuth2Client(
        metadata["token_endpoint"], client_id=c["client_id"], authorization_endpoint=metadata["authorization_endpoint"],
        redirect_uri=REDIRECT, userinfo_endpoint=metadata["userinfo_endpoint"], issuer=metadata["issuer"], testing=True,
        authorization_server_jwks=metadata["jwks"],
    )
    request = client.authorization_request(scope="openid offline_access", dpop=True)
    assert "dpop_jkt=" in str(request.uri)
    response = request.validate_callback(sign_in(clavis, app, str(request.uri)))
    # validate=False: requests-oauth2client 1.8.0 cannot rebuild a DPoPToken after checking
    # its ID token (it drops the key), so the ID token is checked here with joserfc.
    token = remember(clavis, client.authorization_code(response, validate=False))
    assert isinstance(token, DPoPToken)
    id_claims = verified_claims(jwks, str(token.id_token))
    assert (id_claims["iss"], id_claims["aud"], id_claims["nonce"]) == (metadata["issuer"], [c["client_id"]], request.nonce)
    assert verified_claims(jwks, token.access_token)["cnf"]["jkt"] == request.dpop_key.dpop_jkt
    # Userinfo through the library: Authorization: DPoP, a proof with ath, the RS nonce.
    assert client.userinfo(token)["sub"] == "alice"
    # The same token as a bearer token is refused.
    bearer = requests.get(metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {token.access_token}"}, timeout=10)
    assert bearer.status_code == 401
    # Refresh with the token's own key: a new DPoP-bound token.
    refreshed = remember(clavis, client.refresh_token(token))
    assert isinstance(refreshed, DPoPToken)
    assert verified_claims(jwks, refreshed.access_token)["cnf"]["jkt"] == request.dpop_key.dpop_jkt
    # The public client's refresh token is bound to that key: another key is refused.
    with pytest.raises(EndpointError) as refused:
        client.refresh_token(refreshed.refresh_token, dpop_key=DPoPKey.generate(alg="ES256"))
    assert refused.value.error == "invalid_dpop_proof"


def test_par_with_a_proof_binds_the_code(clavis, setup):
    metadata, api, app, jwks = setup
    c = api.create_client(
        name="dpop-web", redirect_uris=[REDIRECT], grant_types=["authorization_code"], scopes=["openid"],
        client_auth_methods=["client_secret_basic"],
    )
    client = OAuth2Client(
        metadata["token_endpoint"], auth=ClientSecretBasic(c["client_id"], c["client_secret"]),
        authorization_endpoint=metadata["authorization_endpoint"],
        pushed_authorization_request_endpoint=metadata["pushed_authorization_request_endpoint"],
        redirect_uri=REDIRECT, issuer=metadata["issuer"], testing=True,
        authorization_server_jwks=metadata["jwks"],
    )
    request = client.authorization_request(scope="openid", dpop=True)
    pushed = client.pushed_authorization_request(request)
    response = request.validate_callback(sign_in(clavis, app, str(pushed.uri)))
    token = remember(clavis, client.authorization_code(response, validate=False))
    assert verified_claims(jwks, token.access_token)["cnf"]["jkt"] == request.dpop_key.dpop_jkt


def test_no_secret_or_token_in_the_log(clavis, setup):
    assert clavis.check_log() > 5
