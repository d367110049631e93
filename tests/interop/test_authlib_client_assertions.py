"""Client authentication by assertion (RFC 7523 §2.2, OpenID Connect Core §9) with
Authlib's own client side: `authlib.oauth2.rfc7523.PrivateKeyJWT` and `ClientSecretJWT`
plugged into `OAuth2Session`, and its signing helpers `private_key_jwt_sign` and
`client_secret_jwt_sign` where a test needs one assertion in hand.

Keys are made with `cryptography` (RSA 2048 for RS*/PS*, P-256/P-384 for ES256/ES384,
Ed25519 for EdDSA); the public JWK sent to Clavis is exported with
`authlib.jose.JsonWebKey`. A client's keys are registered inline (`jwks`) or published at
a `jwks_uri`, served by a small HTTP server in the test. The server runs with
CLAVIS_SECRET_ENCRYPTION_KEY (see conftest), which client_secret_jwt needs.
"""

import base64
import contextlib
import json
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from authlib.integrations.requests_client import OAuthError
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT, client_secret_jwt_sign, private_key_jwt_sign
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # authlib.jose: see clavis_interop
    from authlib.jose import JsonWebKey

from clavis_interop import AdminApi, basic_credentials, discover, fetch_jwks, fetch_token, http, jwt, oauth_session

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Assertions this module signs by hand live 2 minutes (Clavis accepts up to an hour ahead).
LIFETIME_S = 120
# What a public JWK must never hold (RFC 7518 §6.2.2, §6.3.2, §6.4).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def pem(private_key):
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_jwk(private_key):
    """The public half as a JWK, the way a client using Authlib would publish it."""
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk = JsonWebKey.import_key(public_pem).as_dict()
    assert not PRIVATE_MEMBERS & set(jwk), f"the JWK to publish holds private members: {sorted(jwk)}"
    assert jwk["kid"], "Authlib gives the JWK its thumbprint as kid"
    return jwk


def coordinate_bytes(jwk, name):
    return len(base64.urlsafe_b64decode(jwk[name] + "=" * (-len(jwk[name]) % 4)))


def ec_private_key(curve, short_x=False):
    """An EC key whose public JWK, as authlib.jose exports it, has full-length coordinates
    (or, with `short_x`, an x shorter than that).

    authlib.jose writes x and y without their leading zero bytes, so about one key in 128
    comes out with a coordinate shorter than the curve's size, which RFC 7518 §6.2.1.2
    forbids (see `test_ec_jwk_with_a_short_coordinate`): such keys are skipped here, so
    that the other tests do not fail at random.
    """
    size = (curve.key_size + 7) // 8
    while True:
        private = ec.generate_private_key(curve)
        numbers = private.public_key().public_numbers()
        x_len, y_len = ((v.bit_length() + 7) // 8 for v in (numbers.x, numbers.y))
        if (x_len < size) if short_x else (x_len == y_len == size):
            return private


# The JWS algorithms Clavis takes for private_key_jwt, and the key type for each.
PRIVATE_KEY_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]
CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1()}


class ClientKey:
    """A client's key pair for `alg`: what signs (`signing_key` for an Authlib session,
    `key_object` for its helpers) and what is published (`jwk`, public only)."""

    def __init__(self, alg, private=None):
        self.alg = alg
        if private is None:
            private = self.generate(alg)
        if isinstance(private, rsa.RSAPrivateKey):
            # As Authlib's docs show it: the PEM as the session's "client secret", which
            # PrivateKeyJWT imports as an RSA key.
            self.signing_key = pem(private)
            self.key_object = RSAKey.import_key(self.signing_key)
        else:
            # PrivateKeyJWT imports anything but a key object as RSA: others go in as one.
            key_type = ECKey if isinstance(private, ec.EllipticCurvePrivateKey) else OKPKey
            self.signing_key = self.key_object = key_type.import_key(pem(private))
        self.jwk = public_jwk(private)

    @staticmethod
    def generate(alg):
        if alg[:2] in ("RS", "PS"):
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if alg in CURVES:
            return ec_private_key(CURVES[alg])
        if alg == "EdDSA":
            return ed25519.Ed25519PrivateKey.generate()
        raise ValueError(alg)

    @property
    def jwks(self):
        return {"keys": [self.jwk]}

    def sign(self, client_id, audience, **kwargs):
        """One assertion, signed by Authlib's helper."""
        kwargs.setdefault("expires_in", LIFETIME_S)
        return private_key_jwt_sign(self.key_object, client_id, audience, alg=self.alg, **kwargs)


def assertion_session(clavis, client_id, key, auth):
    """Authlib's OAuth2Session with an assertion method (`PrivateKeyJWT`/`ClientSecretJWT`)
    registered as its docs show, for the token, introspection and revocation endpoints.

    `key`: the private key (PEM or key object) or the client secret. Every assertion it
    sends goes into `clavis.sensitive` and into the session's `assertions` list.
    """
    session = oauth_session(client_id, key, auth.name, revocation_endpoint_auth_method=auth.name)
    session.register_client_auth_method(auth)
    session.assertions = []

    def remember(resp, *args, **kwargs):
        body = resp.request.body or ""
        if isinstance(body, bytes):
            body = body.decode()
        for assertion in parse_qs(body).get("client_assertion", []):
            clavis.sensitive.add(assertion)
            session.assertions.append(assertion)

    session.hooks["response"].append(remember)
    return session


def client_credentials(clavis, session, token_endpoint, **params):
    token = session.fetch_token(token_endpoint, grant_type="client_credentials", **params)
    clavis.sensitive.add(token["access_token"])
    assert len(session.assertions) >= 1, "Authlib sent no client_assertion"
    return token


def client_credentials_error(session, token_endpoint):
    """The OAuthError Authlib raises, and the HTTP response behind it."""
    responses = []
    session.hooks["response"].append(lambda resp, *args, **kwargs: responses.append(resp))
    with pytest.raises(OAuthError) as raised:
        session.fetch_token(token_endpoint, grant_type="client_credentials")
    assert len(responses) == 1
    return raised.value, responses[0]


def post_assertion(clavis, token_endpoint, assertion, **form):
    """A client_credentials request authenticated by `assertion` alone, sent by hand."""
    clavis.sensitive.add(assertion)
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **form,
    }
    resp = http().post(token_endpoint, data=data, timeout=10)
    if resp.status_code == 200:
        clavis.sensitive.add(resp.json()["access_token"])
    return resp


def segment(jws, index):
    """The JOSE header (0) or the claims (1) of a compact JWS, unverified."""
    part = jws.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def assert_invalid_client(error, resp):
    assert error.error == "invalid_client", error.description
    assert resp.status_code == 401


def assert_refused(resp, because=None, clavis=None):
    """401 invalid_client with the one description every authentication failure has;
    `because`: a word the server's log must give as the reason, so that the request is
    known to fail for the reason under test and not for another."""
    assert resp.status_code == 401, f"{resp.status_code} {resp.text}"
    body = resp.json()
    assert body == {"error": "invalid_client", "error_description": "client authentication failed"}, resp.text
    if because:
        assert_logged_reason(clavis, because)


def assert_logged_reason(clavis, because):
    """The server's log gives `because` as the reason of a client authentication failure
    newer than the last one checked. It is written before the answer, but the thread
    reading the log may lag behind."""
    deadline = time.monotonic() + 5
    seen = getattr(clavis, "auth_failures_checked", 0)
    while True:
        failures = [line for line in clavis.log_text().splitlines() if "client authentication failed" in line]
        hit = next((i for i, line in enumerate(failures) if i >= seen and because in line), None)
        if hit is not None:
            clavis.auth_failures_checked = hit + 1
            return
        assert time.monotonic() < deadline, f"no newly logged reason with {because!r}"
        time.sleep(0.05)


def token_claims(access_token, metadata, client_id):
    """The access token checked as a resource server would (ES256 against the JWKS)."""
    claims = jwt.decode(access_token, fetch_jwks(metadata))
    claims.validate()
    assert claims["iss"] == metadata["issuer"]
    assert claims["client_id"] == client_id
    assert claims["sub"] == client_id
    return claims


@contextlib.contextmanager
def serving_jwks(jwks):
    """A JWK Set at http://127.0.0.1:PORT/jwks.json for as long as the block runs;
    yields (its URL, the list of paths requested, one entry per hit)."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path != "/jwks.json":
                self.send_error(404)
                return
            body = json.dumps(jwks).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="jwks-uri", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def root(clavis):
    """Discovery metadata of the default tenant (served at the root)."""
    return discover(clavis)


@pytest.fixture(scope="module")
def api(clavis, root):
    admin = {"client_id": clavis.bootstrap_client_id, "client_secret": clavis.bootstrap_secret}
    token = fetch_token(clavis, admin, "client_secret_basic", root["token_endpoint"])
    return AdminApi(clavis, token["access_token"])


def key_client(api, key=None, jwks_uri=None, **fields):
    """A private_key_jwt client of the default tenant, with `key` inline or a `jwks_uri`."""
    keys = {"jwks_uri": jwks_uri} if jwks_uri else {"jwks": json.dumps(key.jwks)}
    client = api.create_client(name="pk", client_auth_methods=["private_key_jwt"], scopes=["read"], **keys, **fields)
    assert client["is_confidential"] is True
    assert not client.get("client_secret")
    return client


def secret_jwt_client(api):
    client = api.create_client(name="csj", client_auth_methods=["client_secret_jwt"], scopes=["read"])
    assert client["client_secret"]
    return client


def test_discovery_offers_the_assertion_methods(root):
    for field in ("token_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported"):
        assert {"private_key_jwt", "client_secret_jwt"} <= set(root[field]), field
    assert {"RS256", "ES256", "HS256"} <= set(root["token_endpoint_auth_signing_alg_values_supported"])


def test_private_key_jwt_rs256_with_inline_jwks(clavis, api, root):
    key = ClientKey("RS256")
    client = key_client(api, key)
    # What the server keeps (and shows back) is the public key as sent: nothing private.
    stored = json.loads(client["jwks"])
    assert stored == key.jwks
    assert not any(PRIVATE_MEMBERS & set(k) for k in stored["keys"])

    endpoint = root["token_endpoint"]
    session = assertion_session(clavis, client["client_id"], key.signing_key, PrivateKeyJWT(endpoint))
    token = client_credentials(clavis, session, endpoint)
    assert token["token_type"] == "Bearer" and token["scope"] == "read"
    claims = token_claims(token["access_token"], root, client["client_id"])
    assert claims["scope"] == "read"

    # Each request gets a new assertion: a second token works too.
    token_claims(client_credentials(clavis, session, endpoint)["access_token"], root, client["client_id"])
    assert len(set(session.assertions)) == len(session.assertions) == 2


# joserfc (under Authlib) warns that RFC 9864 deprecates "EdDSA" for "Ed25519"; Clavis
# takes "EdDSA", the name in RFC 8037 and OpenID Connect.
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", PRIVATE_KEY_ALGS)
def test_private_key_jwt_with_each_algorithm(clavis, api, root, alg):
    key = ClientKey(alg)
    client = key_client(api, key)
    endpoint = root["token_endpoint"]
    auth = PrivateKeyJWT(endpoint, alg=alg)
    session = assertion_session(clavis, client["client_id"], key.signing_key, auth)
    token = client_credentials(clavis, session, endpoint)
    token_claims(token["access_token"], root, client["client_id"])
    assert segment(session.assertions[0], 0)["alg"] == alg


def test_private_key_jwt_es256_with_cached_jwks_uri(clavis, api, root):
    key = ClientKey("ES256")
    with serving_jwks(key.jwks) as (jwks_uri, hits):
        client = key_client(api, jwks_uri=jwks_uri)
        assert client["jwks_uri"] == jwks_uri and not client["jwks"]
        endpoint = root["token_endpoint"]
        # With the kid in the header, as a client with several keys would send it.
        auth = PrivateKeyJWT(endpoint, headers={"kid": key.jwk["kid"]}, alg="ES256")
        session = assertion_session(clavis, client["client_id"], key.signing_key, auth)

        token = client_credentials(clavis, session, endpoint)
        token_claims(token["access_token"], root, client["client_id"])
        assert hits == ["/jwks.json"], "the server fetched the jwks_uri other than once"

        # The key set is cached: the next assertion is checked without another fetch.
        token = client_credentials(clavis, session, endpoint)
        token_claims(token["access_token"], root, client["client_id"])
        assert hits == ["/jwks.json"], "the server fetched the jwks_uri again instead of using its cached copy"


def test_client_secret_jwt(clavis, api, root):
    client = secret_jwt_client(api)
    endpoint = root["token_endpoint"]
    auth = ClientSecretJWT(endpoint)
    session = assertion_session(clavis, client["client_id"], client["client_secret"], auth)
    token = client_credentials(clavis, session, endpoint)
    assert token["scope"] == "read"
    token_claims(token["access_token"], root, client["client_id"])
    assert segment(session.assertions[0], 0)["alg"] == "HS256"

    # The secret alone, sent as such, is refused: the client is registered for the JWT only.
    clavis.sensitive.add(basic_credentials(client["client_id"], client["client_secret"]))
    resp = http().post(
        endpoint,
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )
    assert_refused(resp)


@pytest.mark.parametrize("method", ["private_key_jwt", "client_secret_jwt"])
def test_replayed_assertion_is_refused(clavis, api, root, method):
    endpoint = root["token_endpoint"]
    if method == "private_key_jwt":
        key = ClientKey("RS256")
        client = key_client(api, key)
        assertion = key.sign(client["client_id"], endpoint)
    else:
        client = secret_jwt_client(api)
        assertion = client_secret_jwt_sign(
            OctKey.import_key(client["client_secret"]), client["client_id"], endpoint, expires_in=LIFETIME_S
        )

    first = post_assertion(clavis, endpoint, assertion)
    assert first.status_code == 200, first.text
    token_claims(first.json()["access_token"], root, client["client_id"])
    # The very same assertion again (same jti): refused, though it is still valid otherwise.
    assert_refused(post_assertion(clavis, endpoint, assertion), because="jti", clavis=clavis)
    # With client_id in the body as well, it is no better.
    assert_refused(post_assertion(clavis, endpoint, assertion, client_id=client["client_id"]), because="jti", clavis=clavis)


def test_assertion_for_another_issuer_is_refused(clavis, api, root):
    key = ClientKey("RS256")
    client = key_client(api, key)
    acme_client = api.create_internal_client(
        "acme", name="acme-pk", client_auth_methods=["private_key_jwt"], scopes=["read"], jwks=json.dumps(key.jwks)
    )
    acme = discover(clavis, "acme")
    assert acme["token_endpoint"] == clavis.public_url + "/t/acme/oauth2/token"

    # The default tenant's client, with aud = tenant acme's token endpoint: refused at its own.
    to_acme = key.sign(client["client_id"], acme["token_endpoint"])
    assert_refused(post_assertion(clavis, root["token_endpoint"], to_acme), because="aud", clavis=clavis)
    # ...and at acme's, where the client does not exist.
    assert_refused(post_assertion(clavis, acme["token_endpoint"], to_acme), because="unknown client", clavis=clavis)
    # The acme client's assertion (same key) for the default tenant is refused at acme.
    to_root = key.sign(acme_client["client_id"], root["token_endpoint"])
    assert_refused(post_assertion(clavis, acme["token_endpoint"], to_root), because="aud", clavis=clavis)

    # Controls: each with its own issuer's token endpoint, or the issuer itself, as aud.
    for client_id, metadata in ((client["client_id"], root), (acme_client["client_id"], acme)):
        for audience in (metadata["token_endpoint"], metadata["issuer"]):
            resp = post_assertion(clavis, metadata["token_endpoint"], key.sign(client_id, audience))
            assert resp.status_code == 200, f"aud {audience}: {resp.text}"
            token_claims(resp.json()["access_token"], metadata, client_id)


def test_wrong_key_is_refused(clavis, api, root):
    client = key_client(api, ClientKey("RS256"))
    endpoint = root["token_endpoint"]
    other = ClientKey("RS256")  # not the registered one
    session = assertion_session(clavis, client["client_id"], other.signing_key, PrivateKeyJWT(endpoint))
    error, resp = client_credentials_error(session, endpoint)
    assert_invalid_client(error, resp)
    assert error.description == "client authentication failed"
    assert_logged_reason(clavis, "signature")
    # An ES256 key when an RSA key is registered: no key fits.
    es = ClientKey("ES256")
    assert_refused(post_assertion(clavis, endpoint, es.sign(client["client_id"], endpoint)), because="signature", clavis=clavis)


def test_exp_too_far_ahead_is_refused(clavis, api, root):
    key = ClientKey("RS256")
    client = key_client(api, key)
    endpoint = root["token_endpoint"]
    too_long = key.sign(client["client_id"], endpoint, expires_in=7200)
    assert_refused(post_assertion(clavis, endpoint, too_long), because="exp", clavis=clavis)
    # Under the one-hour cap is fine.
    assert post_assertion(clavis, endpoint, key.sign(client["client_id"], endpoint, expires_in=3500)).status_code == 200


def test_authlib_default_one_hour_assertion_is_accepted(clavis, api, root):
    """Authlib's PrivateKeyJWT as it comes signs assertions that expire an hour after
    iat; Clavis's cap is one hour so that stock clients work."""
    key = ClientKey("RS256")
    client = key_client(api, key)
    endpoint = root["token_endpoint"]
    session = assertion_session(clavis, client["client_id"], key.signing_key, PrivateKeyJWT(endpoint))
    token = client_credentials(clavis, session, endpoint)
    assert segment(token["access_token"], 1)["client_id"] == client["client_id"]
    claims = segment(session.assertions[0], 1)
    assert claims["exp"] - claims["iat"] == 3600


def test_introspection_and_revocation_with_private_key_jwt(clavis, api, root):
    key = ClientKey("ES256")
    client = key_client(api, key)
    endpoint = root["token_endpoint"]
    # aud is the token endpoint for every request (the usual reading of RFC 7523 §3).
    auth = PrivateKeyJWT(endpoint, alg="ES256")
    session = assertion_session(clavis, client["client_id"], key.signing_key, auth)
    token = client_credentials(clavis, session, endpoint)

    # Authlib's introspect_token authenticates as for the token endpoint: the same method.
    resp = session.introspect_token(root["introspection_endpoint"], token=token["access_token"])
    assert resp.status_code == 200, resp.text
    info = resp.json()
    assert info["active"] is True
    assert info["client_id"] == client["client_id"]
    assert info["scope"] == "read"
    assert "client_assertion" in resp.request.body

    # Another client's token (the admin token of the bootstrap client), introspected by this one.
    info = session.introspect_token(root["introspection_endpoint"], token=api.admin_token).json()
    assert info["active"] is True and info["client_id"] == clavis.bootstrap_client_id

    # Revocation with the same method (revocation_endpoint_auth_method), then inactive.
    resp = session.revoke_token(root["revocation_endpoint"], token=token["access_token"])
    assert resp.status_code == 200, resp.text
    resp = session.introspect_token(root["introspection_endpoint"], token=token["access_token"])
    assert resp.json()["active"] is False

    # Without any client authentication, introspection is refused.
    resp = http().post(root["introspection_endpoint"], data={"token": api.admin_token}, timeout=10)
    assert resp.status_code == 401, resp.text
    # A replayed assertion is refused at the introspection endpoint too.
    replayed = session.assertions[-1]
    resp = http().post(
        root["introspection_endpoint"],
        data={"token": api.admin_token, "client_assertion_type": ASSERTION_TYPE, "client_assertion": replayed},
        timeout=10,
    )
    assert_refused(resp, because="jti", clavis=clavis)


def test_ec_jwk_with_a_short_coordinate(clavis, api, root):
    """A P-256 key whose x has a leading zero byte, published as authlib.jose exports it.

    authlib.jose drops leading zero bytes from EC coordinates (about one key in 128 is
    affected), against RFC 7518 §6.2.1.2: x and y MUST be the full coordinate size. A
    server may refuse such a JWK when it is registered (Clavis checks every key of `jwks`
    then), or accept it and pad the coordinate; what it must not do is register a key and
    then refuse every assertion signed with it.
    """
    key = ClientKey("ES256", ec_private_key(ec.SECP256R1(), short_x=True))
    assert coordinate_bytes(key.jwk, "x") < 32, "the precondition: Authlib's export has a short x"
    body = api.body(
        name="pk-short-x", client_auth_methods=["private_key_jwt"], scopes=["read"], jwks=json.dumps(key.jwks)
    )
    resp = api.session.post(f"{clavis.admin_url}/admin/oauth/clients", json=body, timeout=10)
    if resp.status_code == 400:  # refused at registration: fine, if it says why
        assert "jwks" in resp.text, resp.text
        return
    client = api.created(resp)
    endpoint = root["token_endpoint"]
    resp = post_assertion(clavis, endpoint, key.sign(client["client_id"], endpoint))
    assert resp.status_code == 200, (
        f"the JWK was registered, but an assertion signed with its key is refused: {resp.status_code} {resp.text}"
    )


def test_switching_a_client_to_client_secret_jwt(clavis, api, root):
    """A client_secret_basic client whose admin changes it to client_secret_jwt.

    Its secret was stored before the method needed it sealed (only its hash is kept), so
    the server cannot check an HMAC with it. The server may refuse the change (until the
    secret is rotated, say); what it must not do is accept the change and then refuse
    every assertion the client makes with the secret it has.
    """
    client = api.create_client(client_auth_methods=["client_secret_basic"], scopes=["read"])
    endpoint = root["token_endpoint"]
    resp = api.session.put(
        f"{clavis.admin_url}/admin/oauth/clients/{client['client_id']}",
        json={"client_auth_methods": ["client_secret_jwt"]},
        timeout=10,
    )
    if resp.status_code == 400:  # refused: fine, if it says why
        assert "client_secret_jwt" in resp.text or "secret" in resp.text, resp.text
        return
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["client_auth_methods"] == ["client_secret_jwt"]
    auth = ClientSecretJWT(endpoint)
    session = assertion_session(clavis, client["client_id"], client["client_secret"], auth)
    responses = []
    session.hooks["response"].append(lambda r, *args, **kwargs: responses.append(r))
    try:
        token = client_credentials(clavis, session, endpoint)
    except OAuthError as e:
        pytest.fail(
            f"the switch to client_secret_jwt was accepted, but the client's secret no longer "
            f"authenticates it: {responses[-1].status_code} {e.error}: {e.description}",
            pytrace=False,
        )
    token_claims(token["access_token"], root, client["client_id"])


def test_a_new_jwks_uri_takes_effect_at_once(clavis, api, root):
    """The admin points a client at another jwks_uri (a key rotation, or a compromised
    key withdrawn): from then on the key set there is the client's, not the cached copy
    of the old one."""
    old, new = ClientKey("ES256"), ClientKey("ES256")
    endpoint = root["token_endpoint"]
    with serving_jwks(old.jwks) as (old_uri, old_hits), serving_jwks(new.jwks) as (new_uri, new_hits):
        client = key_client(api, jwks_uri=old_uri)
        client_id = client["client_id"]
        resp = post_assertion(clavis, endpoint, old.sign(client_id, endpoint))
        assert resp.status_code == 200, resp.text
        assert old_hits == ["/jwks.json"] and new_hits == []

        assert api.update_client(client_id, jwks_uri=new_uri)["jwks_uri"] == new_uri
        resp = post_assertion(clavis, endpoint, new.sign(client_id, endpoint))
        old_key_resp = post_assertion(clavis, endpoint, old.sign(client_id, endpoint))
        assert (resp.status_code, new_hits) == (200, ["/jwks.json"]), (
            f"an assertion signed with the key at the new jwks_uri: {resp.status_code} {resp.text}; "
            f"fetches of the new jwks_uri: {len(new_hits)}, of the old one: {len(old_hits)}"
        )
        assert old_key_resp.status_code == 401, (
            f"the key at the old jwks_uri still authenticates the client: {old_key_resp.status_code}"
        )


# Keep this test last: it stops the module's server, so that the log it reads is
# complete (everything the server wrote up to its exit), covering every test above.
def test_no_secret_or_token_in_the_log(clavis, api, root):
    # Traffic of its own, so that it checks something when run alone too: each method,
    # a replay, a wrong key, and an introspection.
    endpoint = root["token_endpoint"]
    key = ClientKey("RS256")
    client = key_client(api, key)
    session = assertion_session(clavis, client["client_id"], key.signing_key, PrivateKeyJWT(endpoint))
    token = client_credentials(clavis, session, endpoint)
    session.introspect_token(root["introspection_endpoint"], token=token["access_token"])
    assertion = key.sign(client["client_id"], endpoint)
    post_assertion(clavis, endpoint, assertion)
    assert_refused(post_assertion(clavis, endpoint, assertion))
    assert_refused(post_assertion(clavis, endpoint, ClientKey("RS256").sign(client["client_id"], endpoint)))

    secret_client = secret_jwt_client(api)
    session = assertion_session(
        clavis, secret_client["client_id"], secret_client["client_secret"], ClientSecretJWT(endpoint)
    )
    client_credentials(clavis, session, endpoint)

    # Stops the server, then looks for every value in `clavis.sensitive` in its log.
    assert clavis.check_log() > 10  # the check really had values to look for
