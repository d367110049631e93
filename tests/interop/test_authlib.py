"""Clavis against Authlib, a third-party OAuth 2.0 client we did not write.

Tokens are fetched with `authlib.integrations.requests_client.OAuth2Session` and
verified with `authlib.jose` against the JWKS that discovery points to, the way a
resource server using Authlib would.
"""

import secrets
import time
import warnings

import pytest
from authlib.integrations.requests_client import OAuthError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # authlib.jose: see clavis_interop
    from authlib.jose import JoseError, JsonWebKey
    from authlib.jose.errors import BadSignatureError

from clavis_interop import (
    jwt_header,
    BOTH_METHODS,
    AdminApi,
    basic_credentials,
    discover,
    fetch_jwks,
    fetch_token,
    http,
    jwt,
    oauth_session,
)


def fetch_token_error(clavis, client_id, client_secret, method, token_endpoint, **params):
    """The OAuthError authlib raises, and the HTTP response behind it."""
    clavis.sensitive |= {client_secret, basic_credentials(client_id, client_secret)}
    session = oauth_session(client_id, client_secret, method)
    responses = []
    session.hooks["response"].append(lambda resp, *args, **kwargs: responses.append(resp))
    with pytest.raises(OAuthError) as raised:
        session.fetch_token(token_endpoint, grant_type="client_credentials", **params)
    assert len(responses) == 1
    return raised.value, responses[0]


def assert_invalid_client(error, resp):
    assert error.error == "invalid_client", error.description
    # RFC 6749 §5.2: 401 with a challenge when the client tried to authenticate.
    assert resp.status_code == 401
    assert "WWW-Authenticate" in resp.headers


def verify_access_token(access_token, metadata, keys, client_id, scope):
    """Checks an access token as a resource server would (RFC 9068); returns its claims."""
    claims = jwt.decode(
        access_token,
        keys,
        claims_options={
            "iss": {"essential": True, "value": metadata["issuer"]},
            "aud": {"essential": True, "value": metadata["issuer"]},
            "sub": {"essential": True, "value": client_id},
            "client_id": {"essential": True, "value": client_id},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "jti": {"essential": True},
        },
    )
    claims.validate()  # the options above, plus exp in the future and iat a number
    assert claims.header["alg"] == "ES256"
    assert claims.header["typ"] == "at+jwt"
    # The same again, spelled out, so a failure says exactly which one is off.
    assert claims["iss"] == metadata["issuer"]
    assert claims["aud"] == metadata["issuer"] or metadata["issuer"] in claims["aud"]
    assert claims["exp"] > time.time()
    assert claims["client_id"] == client_id
    assert claims["scope"] == scope
    return claims


@pytest.fixture(scope="module")
def root(clavis):
    """Discovery metadata of the default tenant (served at the root)."""
    return discover(clavis)


@pytest.fixture(scope="module")
def api(clavis, root):
    admin = {"client_id": clavis.bootstrap_client_id, "client_secret": clavis.bootstrap_secret}
    token = fetch_token(clavis, admin, "client_secret_basic", root["token_endpoint"])
    assert token["scope"] == "admin"
    return AdminApi(clavis, token["access_token"])


def test_discovery_points_at_this_issuer(clavis, root):
    assert root["issuer"] == clavis.public_url
    assert root["token_endpoint"] == clavis.public_url + "/oauth2/token"
    assert root["jwks_uri"].startswith(clavis.public_url + "/")
    assert set(BOTH_METHODS) <= set(root["token_endpoint_auth_methods_supported"])
    keys = http().get(root["jwks_uri"], timeout=10).json()["keys"]
    assert keys, "the JWKS is empty"
    kinds = {(key["alg"], key["kty"], key.get("crv")) for key in keys}
    assert kinds == {("RS256", "RSA", None), ("PS256", "RSA", None), ("ES256", "EC", "P-256"), ("EdDSA", "OKP", "Ed25519")}
    for key in keys:
        assert key.get("kid") and key["use"] == "sig"
        # Each key imports as a public key in Authlib (cryptography underneath).
        assert JsonWebKey.import_key(key).as_dict(is_private=False)["kid"] == key["kid"]
        for private in ("d", "p", "q", "dp", "dq", "qi"):
            assert private not in key, "the JWKS publishes a private key"


@pytest.mark.parametrize("method", BOTH_METHODS)
def test_token_with_each_client_auth_method(clavis, api, root, method):
    # Registered for this one method only: success proves the server took it as such.
    client = api.create_client(client_auth_methods=[method])
    token = fetch_token(clavis, client, method, root["token_endpoint"])
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] > 0
    assert set(token["scope"].split()) == {"read", "write"}  # nothing asked: all registered
    claims = verify_access_token(token["access_token"], root, fetch_jwks(root), client["client_id"], token["scope"])
    assert claims["exp"] - claims["iat"] == token["expires_in"]


@pytest.mark.parametrize("registered, used", [BOTH_METHODS, BOTH_METHODS[::-1]])
def test_unregistered_auth_method_is_refused(clavis, api, root, registered, used):
    client = api.create_client(client_auth_methods=[registered])
    error, resp = fetch_token_error(clavis, client["client_id"], client["client_secret"], used, root["token_endpoint"])
    assert_invalid_client(error, resp)


def test_subset_scope(clavis, api, root):
    client = api.create_client()
    token = fetch_token(clavis, client, "client_secret_basic", root["token_endpoint"], scope="read")
    assert token["scope"] == "read"
    verify_access_token(token["access_token"], root, fetch_jwks(root), client["client_id"], "read")


def test_unregistered_scope_is_invalid_scope(clavis, api, root):
    # `admin` exists on this server (the bootstrap client has it), just not for this client.
    client = api.create_client()
    error, resp = fetch_token_error(
        clavis, client["client_id"], client["client_secret"], "client_secret_post", root["token_endpoint"],
        scope="read admin",
    )
    assert error.error == "invalid_scope", error.description
    assert resp.status_code == 400


@pytest.mark.parametrize("method", BOTH_METHODS)
def test_wrong_secret_is_invalid_client(clavis, api, root, method):
    client = api.create_client()
    wrong = secrets.token_urlsafe(32)
    error, resp = fetch_token_error(clavis, client["client_id"], wrong, method, root["token_endpoint"])
    assert_invalid_client(error, resp)


def test_suspended_client_is_invalid_client(clavis, api, root):
    client = api.create_client()
    # A token first: it works, and the server now holds the client in its cache, which
    # the suspension has to get past.
    fetch_token(clavis, client, "client_secret_basic", root["token_endpoint"])
    assert api.update_client(client["client_id"], status="suspended")["status"] == "suspended"
    error, resp = fetch_token_error(
        clavis, client["client_id"], client["client_secret"], "client_secret_basic", root["token_endpoint"]
    )
    assert_invalid_client(error, resp)


def test_tenant_client_gets_tenant_tokens(clavis, api, root):
    client = api.create_internal_client("acme")
    acme = discover(clavis, "acme")
    assert acme["issuer"] == clavis.public_url + "/t/acme"
    assert acme["token_endpoint"] == clavis.public_url + "/t/acme/oauth2/token"
    assert acme["jwks_uri"] == clavis.public_url + "/t/acme/.well-known/jwks.json"

    token = fetch_token(clavis, client, "client_secret_basic", acme["token_endpoint"])
    claims = verify_access_token(token["access_token"], acme, fetch_jwks(acme), client["client_id"], token["scope"])
    assert claims["iss"].endswith("/t/acme")

    # The default tenant's keys must not verify it: not as a set (looked up by kid)...
    root_keys = fetch_jwks(root)
    assert root_keys.keys, "the default tenant's JWKS is empty"
    with pytest.raises((JoseError, ValueError)):
        jwt.decode(token["access_token"], root_keys)
    # ...nor any single one of them, whatever its kid.
    # (Keys of the token's algorithm fail on the signature; authlib will not even try
    # the others.)
    alg = jwt_header(token["access_token"])["alg"]
    same_alg = [key for key in root_keys.keys if key.as_dict()["alg"] == alg]
    assert same_alg, "the other tenant has a key of this algorithm too"
    for key in same_alg:
        with pytest.raises(BadSignatureError):
            jwt.decode(token["access_token"], key)


def test_clients_are_confined_to_their_tenant(clavis, api, root):
    tenant_client = api.create_internal_client("acme")
    error, resp = fetch_token_error(
        clavis, tenant_client["client_id"], tenant_client["client_secret"], "client_secret_basic",
        root["token_endpoint"],
    )
    assert_invalid_client(error, resp)

    default_client = api.create_client()
    error, resp = fetch_token_error(
        clavis, default_client["client_id"], default_client["client_secret"], "client_secret_post",
        discover(clavis, "acme")["token_endpoint"],
    )
    assert_invalid_client(error, resp)


# Keep this test last: it stops the module's server, so that the log it reads is
# complete (everything the server wrote up to its exit), covering every test above.
def test_no_secret_or_token_in_the_log(clavis, api, root):
    # Traffic of its own, so that it checks something when run alone too.
    client = api.create_client()
    for method in BOTH_METHODS:
        fetch_token(clavis, client, method, root["token_endpoint"])
        fetch_token_error(clavis, client["client_id"], secrets.token_urlsafe(32), method, root["token_endpoint"])
    tenant_client = api.create_internal_client("acme")
    fetch_token(clavis, tenant_client, "client_secret_post", discover(clavis, "acme")["token_endpoint"])

    # Stops the server, then looks for every value in `clavis.sensitive` in its log.
    assert clavis.check_log() > 10  # the check really had values to look for
