"""Clavis's Ory Hydra-compatible client admin API (`/admin/clients`) driven by the
official Ory Hydra Python SDK (`ory-hydra-client`), the way a Hydra user's code does it:
`Configuration(host=<admin URL>)`, an `ApiClient` with the admin bearer token as a
default `Authorization` header, and `OAuth2Api`'s client methods with the SDK's models
(`OAuth2Client`, `JsonPatch`, `OAuth2ClientTokenLifespans`, `JsonWebKeySet`).

The SDK (de)serializes every request and response through its pydantic models, so a
response Clavis shapes differently from Hydra fails here even before an assertion does.
The same clients are also read and written through the authms API
(`/admin/oauth/clients`), which shares the client store.
"""

import base64
import json
import re
import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.requests_client import AssertionSession, OAuth2Session, OAuthError
from authlib.oauth2 import OAuth2Error
from joserfc.jwk import ECKey
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from ory_hydra_client import ApiClient, Configuration, JwkApi, MetadataApi, OAuth2Api
from ory_hydra_client.exceptions import ApiException
from ory_hydra_client.models import (
    CreateJsonWebKeySet,
    JsonPatch,
    JsonWebKey,
    JsonWebKeySet,
    OAuth2Client,
    OAuth2ClientTokenLifespans,
    TrustOAuth2JwtGrantIssuer,
)

from clavis_interop import AdminApi, basic_credentials, discover, fetch_token, http, jwt_header

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

# Every per-grant lifespan of Hydra's client model that applies to a grant Clavis serves,
# in the Go notation Clavis answers with (the implicit ones are refused).
LIFESPANS = {
    "authorization_code_grant_access_token_lifespan": "1h0m0s",
    "authorization_code_grant_id_token_lifespan": "2h0m0s",
    "authorization_code_grant_refresh_token_lifespan": "720h0m0s",
    "client_credentials_grant_access_token_lifespan": "30m0s",
    "device_authorization_grant_access_token_lifespan": "1h30m0s",
    "device_authorization_grant_id_token_lifespan": "45m0s",
    "device_authorization_grant_refresh_token_lifespan": "168h0m0s",
    "jwt_bearer_grant_access_token_lifespan": "15m0s",
    "refresh_token_grant_access_token_lifespan": "1h0m0s",
    "refresh_token_grant_id_token_lifespan": "1h0m0s",
    "refresh_token_grant_refresh_token_lifespan": "8760h0m0s",
}

def new_secret():
    return secrets.token_urlsafe(32)


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(6)}"


def ec_public_jwk(kid):
    """A fresh P-256 public key, with every member the SDK's JsonWebKey requires."""
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()

    def b64(n):
        return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()

    return JsonWebKey(kty="EC", crv="P-256", x=b64(numbers.x), y=b64(numbers.y), kid=kid, alg="ES256", use="sig")


def api_error(raised):
    """Status and parsed Hydra error body of an ApiException (from pytest.raises)."""
    e = raised.value
    body = json.loads(e.body) if e.body else {}
    return e.status, body


def header(headers, name):
    """A response header, whatever the case of its name (the SDK hands over a mapping)."""
    for k, v in (headers or {}).items():
        if k.lower() == name.lower():
            return v
    return None


def links(headers):
    """The Link header as {rel: url}."""
    value = header(headers, "Link") or ""
    return {rel: url for url, rel in re.findall(r'<([^>]*)>\s*;\s*rel="([^"]+)"', value)}


class Tokens:
    """The token endpoint, as the clients the tests register use it."""

    def __init__(self, clavis, endpoint):
        self.clavis = clavis
        self.endpoint = endpoint

    def request(self, client_id, secret, method="client_secret_basic", **params):
        self.clavis.sensitive |= {secret, basic_credentials(client_id, secret)}
        data = {"grant_type": "client_credentials", **params}
        if method == "client_secret_post":
            data |= {"client_id": client_id, "client_secret": secret}
            auth = None
        else:
            auth = (client_id, secret)
        resp = http().post(self.endpoint, data=data, auth=auth, timeout=10)
        if resp.status_code == 200:
            self.clavis.sensitive.add(resp.json()["access_token"])
        return resp

    def ok(self, client_id, secret, method="client_secret_basic", **params):
        resp = self.request(client_id, secret, method, **params)
        assert resp.status_code == 200, f"{resp.status_code} {resp.text}"
        return resp.json()

    def refused(self, client_id, secret, method="client_secret_basic"):
        resp = self.request(client_id, secret, method)
        assert resp.status_code == 401, f"{resp.status_code} {resp.text}"
        assert resp.json()["error"] == "invalid_client"


class Authms:
    """The authms API on the same admin token: `{"code","message","data"}` envelopes."""

    def __init__(self, clavis, admin_token):
        self.api = AdminApi(clavis, admin_token)
        self.url = f"{clavis.admin_url}/admin/oauth/clients"

    def create(self, **fields):
        return self.api.create_client(**fields)

    def get_response(self, client_id):
        return self.api.session.get(f"{self.url}/{client_id}", timeout=10)

    def get(self, client_id):
        resp = self.get_response(client_id)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["code"] == 200
        return body["data"]

    def update(self, client_id, **fields):
        return self.api.update_client(client_id, **fields)


@pytest.fixture(scope="module")
def root(clavis):
    return discover(clavis)


@pytest.fixture(scope="module")
def admin_token(clavis, root):
    admin = {"client_id": clavis.bootstrap_client_id, "client_secret": clavis.bootstrap_secret}
    token = fetch_token(clavis, admin, "client_secret_basic", root["token_endpoint"])
    assert token["scope"] == "admin"
    return token["access_token"]


@pytest.fixture(scope="module")
def hydra(clavis, admin_token):
    """`OAuth2Api` set up as Hydra's documentation does it, on Clavis's admin listener."""
    configuration = Configuration(host=clavis.admin_url)
    with ApiClient(configuration, header_name="Authorization", header_value=f"Bearer {admin_token}") as api_client:
        yield OAuth2Api(api_client)


@pytest.fixture(scope="module")
def tokens(clavis, root):
    return Tokens(clavis, root["token_endpoint"])


@pytest.fixture(scope="module")
def authms(clavis, admin_token):
    return Authms(clavis, admin_token)


def create(clavis, hydra, client):
    """`create_o_auth2_client`; remembers the secret it answers with (if any)."""
    if client.client_secret:
        clavis.sensitive.add(client.client_secret)
    created = hydra.create_o_auth2_client(client)
    if created.client_secret:
        clavis.sensitive.add(created.client_secret)
    return created


def machine_client(**fields):
    """A confidential client that can get tokens by client_credentials."""
    args = {
        "client_name": "sdk machine client",
        "grant_types": ["client_credentials"],
        "scope": "read write",
        "token_endpoint_auth_method": "client_secret_basic",
    }
    args.update(fields)
    return OAuth2Client(**args)


def full_client(secret):
    """Every field of Hydra's OAuth2Client that Clavis keeps, none left to a default."""
    return OAuth2Client(
        client_id=unique("sdk-full"),
        client_name="SDK client with every field",
        client_secret=secret,
        redirect_uris=["https://app.example.com/cb", "http://127.0.0.1:8080/cb", "com.example.app:/oauth2/cb"],
        post_logout_redirect_uris=["https://app.example.com/logged-out"],
        grant_types=["authorization_code", "refresh_token", "client_credentials", DEVICE_CODE, TOKEN_EXCHANGE],
        response_types=["code"],  # the only one the authorization endpoint answers
        scope="openid offline_access read write",
        audience=["https://api.example.com", "https://files.example.com"],
        owner="team-sdk",
        policy_uri="https://app.example.com/privacy",
        tos_uri="https://app.example.com/tos",
        client_uri="https://app.example.com/",
        logo_uri="https://app.example.com/logo.png",
        allowed_cors_origins=["https://spa.example.com", "http://localhost:3000"],
        contacts=["ops@example.com", "dev@example.com"],
        jwks=JsonWebKeySet(keys=[ec_public_jwk("sdk-key-1")]),
        token_endpoint_auth_method="client_secret_post",
        token_endpoint_auth_signing_alg="ES256",
        request_object_signing_alg="ES256",
        request_uris=["https://app.example.com/request.jwt"],
        userinfo_signed_response_alg="ES256",
        # A sector identifier is for pairwise subjects, whose document is fetched at
        # registration (tests/it/subject_types.rs); beside `public` it is refused.
        subject_type="public",
        frontchannel_logout_uri="https://app.example.com/logout/front",
        frontchannel_logout_session_required=True,
        backchannel_logout_uri="https://app.example.com/logout/back",
        backchannel_logout_session_required=True,
        metadata={
            "tier": "gold",
            "limits": {"rps": 50, "burst": 2.5, "regions": ["eu", "us"]},
            "flags": [{"name": "beta", "on": True}, {"name": "legacy", "on": False}],
        },
        skip_consent=True,
        skip_logout_consent=True,
        access_token_strategy="opaque",
        **LIFESPANS,
    )


def assert_same_fields(got, sent, what):
    """Every field `sent` set has the same value in `got` (both SDK models)."""
    want = sent.to_dict()
    want.pop("client_secret", None)
    have = got.to_dict()
    diff = {k: (v, have.get(k)) for k, v in want.items() if have.get(k) != v}
    assert not diff, f"{what}: fields that differ (sent, got): {diff}"


def test_unauthenticated_sdk_is_refused(clavis):
    with ApiClient(Configuration(host=clavis.admin_url)) as api_client:
        with pytest.raises(ApiException) as raised:
            OAuth2Api(api_client).list_o_auth2_clients()
    assert raised.value.status == 401


def test_create_with_every_field_reads_back_identical(clavis, hydra, authms, tokens):
    secret = new_secret()
    sent = full_client(secret)
    created = create(clavis, hydra, sent)
    assert created.client_id == sent.client_id
    assert created.client_secret == secret, "the supplied secret is not the one echoed"
    assert_same_fields(created, sent, "create response")
    assert created.created_at is not None and created.updated_at is not None

    got = hydra.get_o_auth2_client(sent.client_id)
    assert got.client_secret is None, "a read shows the secret"
    assert_same_fields(got, sent, "get")
    # Nothing the SDK did not send has appeared, and the server-set fields are Hydra's.
    assert got.created_at is not None and got.updated_at is not None
    assert got.created_at == created.created_at
    assert got.created_at <= got.updated_at
    assert got.client_secret_expires_at == 0
    assert not got.jwks_uri
    assert got.registration_access_token is None and got.registration_client_uri is None
    assert not got.additional_properties, f"fields outside Hydra's model: {got.additional_properties}"
    # The key came back as the SDK's typed model, not as an opaque blob.
    assert isinstance(got.jwks.keys[0], JsonWebKey) and got.jwks.keys[0].kid == "sdk-key-1"

    # The supplied secret is the client's secret, with the auth method it registered,
    # and the per-client lifespan applies to the token.
    token = tokens.ok(sent.client_id, secret, "client_secret_post", scope="read write")
    assert token["scope"] == "read write"
    assert token["expires_in"] == 30 * 60
    tokens.refused(sent.client_id, secret, "client_secret_basic")  # not its method
    tokens.refused(sent.client_id, new_secret(), "client_secret_post")

    # An authms update (suspend, reactivate) leaves every Hydra field as it was.
    authms.update(sent.client_id, status="suspended")
    tokens.refused(sent.client_id, secret, "client_secret_post")
    authms.update(sent.client_id, status="active")
    assert_same_fields(hydra.get_o_auth2_client(sent.client_id), sent, "get after an authms update")
    tokens.ok(sent.client_id, secret, "client_secret_post", scope="read")


def test_generated_secret_and_defaults(clavis, hydra, tokens):
    created = create(clavis, hydra, machine_client())
    assert created.client_id, "no client_id was generated"
    assert created.client_secret and len(created.client_secret) >= 32, "no (strong) secret was generated"
    tokens.ok(created.client_id, created.client_secret)
    got = hydra.get_o_auth2_client(created.client_id)
    assert got.client_secret is None

    # Hydra's defaults for what the request leaves out.
    bare = create(clavis, hydra, OAuth2Client())
    assert bare.client_secret
    assert bare.grant_types == ["authorization_code"]
    assert bare.response_types == ["code"]
    assert bare.scope == "offline_access offline openid"
    assert bare.token_endpoint_auth_method == "client_secret_basic"
    assert bare.subject_type == "public"
    assert bare.access_token_strategy == "jwt"
    assert bare.skip_consent is False
    assert bare.metadata == {}

    # A public client has no use for a secret, and gets none.
    public = create(clavis, hydra, OAuth2Client(
        redirect_uris=["https://spa.example.com/cb"], token_endpoint_auth_method="none",
    ))
    assert not public.client_secret
    assert hydra.get_o_auth2_client(public.client_id).token_endpoint_auth_method == "none"


def test_duplicate_client_id_is_409(clavis, hydra):
    client_id = unique("sdk-dup")
    create(clavis, hydra, machine_client(client_id=client_id))
    with pytest.raises(ApiException) as raised:
        create(clavis, hydra, machine_client(client_id=client_id, client_secret=new_secret()))
    status, body = api_error(raised)
    assert status == 409, body
    assert body["status_code"] == 409 and body["error"]


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"redirect_uris": ["http://evil.example.com/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example.com/cb#frag"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["not a uri"]}, "invalid_redirect_uri"),
        ({"post_logout_redirect_uris": ["http://evil.example.com/bye"]}, "invalid_redirect_uri"),
        ({"subject_type": "ephemeral"}, "invalid_client_metadata"),
        ({"grant_types": ["implicit"]}, "invalid_client_metadata"),
        ({"response_types": ["code", "token"]}, "invalid_client_metadata"),
        ({"response_types": ["code id_token token"]}, "invalid_client_metadata"),
        ({"userinfo_signed_response_alg": "HS256"}, "invalid_client_metadata"),
        ({"grant_types": ["password"]}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "magic"}, "invalid_client_metadata"),
        ({"access_token_strategy": "sometimes"}, "invalid_client_metadata"),
        ({"allowed_cors_origins": ["https://spa.example.com/path"]}, "invalid_client_metadata"),
        ({"client_secret": "abcde"}, "invalid_client_metadata"),  # < 6 characters
        ({"client_credentials_grant_access_token_lifespan": "9000h"}, "invalid_client_metadata"),
    ],
)
def test_invalid_metadata_is_400(clavis, hydra, fields, error):
    args = {"redirect_uris": ["https://app.example.com/cb"]}
    args.update(fields)
    with pytest.raises(ApiException) as raised:
        hydra.create_o_auth2_client(OAuth2Client(**args))
    status, body = api_error(raised)
    assert status == 400, body
    assert body["error"] == error, body
    assert body["status_code"] == 400 and body["error_description"]


def test_unknown_client_is_404(hydra):
    missing = unique("sdk-missing")
    calls = [
        lambda: hydra.get_o_auth2_client(missing),
        lambda: hydra.set_o_auth2_client(missing, machine_client()),
        lambda: hydra.patch_o_auth2_client(missing, [JsonPatch(op="replace", path="/client_name", value="x")]),
        lambda: hydra.set_o_auth2_client_lifespans(
            missing, OAuth2ClientTokenLifespans(client_credentials_grant_access_token_lifespan="1h")
        ),
        lambda: hydra.delete_o_auth2_client(missing),
    ]
    for call in calls:
        with pytest.raises(ApiException) as raised:
            call()
        status, body = api_error(raised)
        assert status == 404, body
        assert body["status_code"] == 404 and body["error"]


def list_page(hydra, **params):
    """One page: the clients, the Link rels and X-Total-Count."""
    resp = hydra.list_o_auth2_clients_with_http_info(**params)
    assert resp.status_code == 200
    total = header(resp.headers, "X-Total-Count")
    assert total is not None, "no X-Total-Count"
    return resp.data, links(resp.headers), int(total)


def link_params(url):
    """The SDK arguments for the page a Link URL points to (each parameter once)."""
    assert url.startswith("/admin/clients?") or urlsplit(url).path.endswith("/admin/clients"), url
    query = parse_qs(urlsplit(url).query)
    assert all(len(v) == 1 for v in query.values()), f"a repeated parameter in {url}"
    params = {k: v[0] for k, v in query.items()}
    assert set(params) <= {"page_size", "page_token", "client_name", "owner"}, url
    if "page_size" in params:
        params["page_size"] = int(params["page_size"])
    return params


def list_all(hydra, **params):
    """Every page, from the one `params` asks for, then following rel="next" (all of its
    query: the filters must be in it) until there is none; the pages' clients and totals."""
    pages = []
    while True:
        items, rels, total = list_page(hydra, **params)
        assert "first" in rels, f"no rel=first: {rels}"
        first = link_params(rels["first"])
        assert "page_token" not in first
        assert {k: v for k, v in first.items() if k != "page_size"} == {
            k: v for k, v in params.items() if k in ("client_name", "owner")
        }, f"rel=first lost or changed the filters: {rels['first']}"
        pages.append((items, total))
        if "next" not in rels:
            return pages
        assert items, "an empty page points to a next one"
        following = link_params(rels["next"])
        assert following.get("page_token"), f"rel=next without a page_token: {rels['next']}"
        params = following
        assert len(pages) < 100, "the pages do not end"


def test_list_pages_with_link_header_and_filters(clavis, hydra):
    # Characters that must be percent-encoded in the Link URLs.
    owner = unique("sdk owner & co/ü")
    names = ["pager-twin", "pager-twin"] + [f"pager-{i}" for i in range(5)]
    ids = {create(clavis, hydra, machine_client(owner=owner, client_name=name)).client_id for name in names}
    assert len(ids) == 7
    # Another owner's client, which the owner filter must leave out.
    create(clavis, hydra, machine_client(owner=unique("sdk-other"), client_name="pager-twin"))

    pages = list_all(hydra, page_size=3, owner=owner)
    assert [len(items) for items, _ in pages] == [3, 3, 1]
    assert all(total == 7 for _, total in pages)
    seen = [c.client_id for items, _ in pages for c in items]
    assert sorted(seen) == sorted(ids), "each client exactly once"
    assert all(c.owner == owner for items, _ in pages for c in items)
    assert all(c.client_secret is None for items, _ in pages for c in items), "a list shows secrets"

    # The whole tenant, unfiltered: no client twice, none skipped.
    pages = list_all(hydra, page_size=3)
    seen = [c.client_id for items, _ in pages for c in items]
    assert len(seen) == len(set(seen)), "a client on two pages"
    assert ids <= set(seen)
    assert len(seen) == pages[0][1], "X-Total-Count is not the number of clients listed"
    assert all(len(items) == 3 for items, _ in pages[:-1])

    # client_name is an exact match, and combines with owner.
    twins, _, total = list_page(hydra, client_name="pager-twin", owner=owner)
    assert total == 2 and len(twins) == 2
    assert {c.client_name for c in twins} == {"pager-twin"}
    everyone_twin, _, _ = list_page(hydra, client_name="pager-twin")
    assert len(everyone_twin) == 3
    prefix, _, total = list_page(hydra, client_name="pager")
    assert prefix == [] and total == 0
    nobody, rels, total = list_page(hydra, owner=unique("sdk-nobody"))
    assert nobody == [] and total == 0 and "next" not in rels

    # A unicode name is an exact match too, and the next link keeps it.
    accented = unique("Zoë's app &")
    for _ in range(2):
        create(clavis, hydra, machine_client(owner=owner, client_name=accented))
    pages = list_all(hydra, page_size=1, client_name=accented)
    assert [len(items) for items, _ in pages] == [1, 1]
    assert {c.client_name for items, _ in pages for c in items} == {accented}

    # A page token the server did not make is refused.
    with pytest.raises(ApiException) as raised:
        hydra.list_o_auth2_clients(page_token="not-a-token")
    assert raised.value.status == 400

    # More than the maximum page size is clamped, not refused.
    items, rels, total = list_page(hydra, page_size=1000)
    assert len(items) == min(total, 500)
    assert parse_qs(urlsplit(rels["first"]).query)["page_size"] == ["500"]


def test_set_replaces_the_client(clavis, hydra, tokens):
    original = create(clavis, hydra, machine_client(
        client_name="before",
        owner="team-a",
        contacts=["a@example.com"],
        audience=["https://api.example.com"],
        metadata={"k": "v"},
        redirect_uris=["https://before.example.com/cb"],
        grant_types=["client_credentials", "authorization_code"],
        response_types=["code"],
        skip_consent=True,
        client_credentials_grant_access_token_lifespan="10m0s",
    ))
    client_id, secret = original.client_id, original.client_secret

    # A full replace: what the body leaves out takes Hydra's default, the secret stays.
    replacement = machine_client(
        client_name="after",
        redirect_uris=["https://after.example.com/cb"],
        scope="read",
    )
    updated = hydra.set_o_auth2_client(client_id, replacement)
    assert updated.client_secret is None, "a PUT without a secret echoes one"
    got = hydra.get_o_auth2_client(client_id)
    assert_same_fields(got, replacement, "get after set")
    assert got.client_id == client_id
    assert got.owner == "" and not got.contacts and not got.audience and got.metadata == {}
    assert got.response_types == ["code"]
    assert got.skip_consent is False
    assert got.client_credentials_grant_access_token_lifespan is None
    assert got.created_at == original.created_at
    assert got.updated_at >= original.updated_at
    token = tokens.ok(client_id, secret)  # the old secret still works
    assert token["scope"] == "read"

    # A read-modify-write round trip through the SDK's model changes just that field.
    got.client_name = "round trip"
    hydra.set_o_auth2_client(client_id, got)
    again = hydra.get_o_auth2_client(client_id)
    assert again.client_name == "round trip"
    assert again.redirect_uris == ["https://after.example.com/cb"] and again.scope == "read"

    # An empty secret in a PUT is no secret: the old one stays.
    again.client_secret = ""
    assert not hydra.set_o_auth2_client(client_id, again).client_secret
    tokens.ok(client_id, secret)

    # A PUT with a secret sets it: echoed once, the old one stops working.
    rotated = new_secret()
    clavis.sensitive.add(rotated)
    again.client_secret = rotated
    assert hydra.set_o_auth2_client(client_id, again).client_secret == rotated
    tokens.ok(client_id, rotated)
    tokens.refused(client_id, secret)

    # client_id cannot change through a PUT.
    again.client_id = unique("sdk-other-id")
    again.client_secret = None
    with pytest.raises(ApiException) as raised:
        hydra.set_o_auth2_client(client_id, again)
    assert raised.value.status == 400


def test_patch(clavis, hydra, tokens):
    created = create(clavis, hydra, machine_client(
        client_name="patch me",
        redirect_uris=["https://app.example.com/cb"],
        contacts=["ops@example.com"],
        metadata={"tier": "silver"},
    ))
    client_id = created.client_id

    patched = hydra.patch_o_auth2_client(client_id, [
        JsonPatch(op="replace", path="/client_name", value="patched"),
        JsonPatch(op="add", path="/redirect_uris/-", value="https://app.example.com/cb2"),
        JsonPatch(op="remove", path="/contacts"),
        JsonPatch(op="add", path="/metadata/region", value="eu"),
    ])
    assert patched.client_secret is None
    got = hydra.get_o_auth2_client(client_id)
    assert got.client_name == "patched"
    assert got.redirect_uris == ["https://app.example.com/cb", "https://app.example.com/cb2"]
    assert not got.contacts
    assert got.metadata == {"tier": "silver", "region": "eu"}
    assert got.grant_types == ["client_credentials"] and got.scope == "read write", "untouched fields changed"
    tokens.ok(client_id, created.client_secret)  # the secret was kept

    # A passing test op lets the patch through; a failing one stops all of it.
    hydra.patch_o_auth2_client(client_id, [
        JsonPatch(op="test", path="/client_name", value="patched"),
        JsonPatch(op="replace", path="/client_name", value="tested"),
    ])
    assert hydra.get_o_auth2_client(client_id).client_name == "tested"

    registration_token = secrets.token_urlsafe(24)
    clavis.sensitive.add(registration_token)
    refused = {
        "failing test": [
            JsonPatch(op="replace", path="/owner", value="someone"),
            JsonPatch(op="test", path="/client_name", value="not the name"),
        ],
        "client_id": [JsonPatch(op="replace", path="/client_id", value=unique("sdk-new-id"))],
        "created_at": [JsonPatch(op="replace", path="/created_at", value="2020-01-01T00:00:00Z")],
        "updated_at": [JsonPatch(op="remove", path="/updated_at")],
        "client_secret_expires_at": [JsonPatch(op="replace", path="/client_secret_expires_at", value=1)],
        "registration_access_token": [
            JsonPatch(op="add", path="/registration_access_token", value=registration_token)
        ],
        "unknown op": [JsonPatch(op="frobnicate", path="/client_name", value="x")],
        "replace without a value": [JsonPatch(op="replace", path="/client_name")],
        "move from client_id": [JsonPatch(op="move", var_from="/client_id", path="/client_name")],
        "missing path": [JsonPatch(op="remove", path="/metadata/nope")],
        "bad index": [JsonPatch(op="replace", path="/redirect_uris/7", value="https://app.example.com/x")],
        "invalid result": [JsonPatch(op="add", path="/redirect_uris/-", value="http://evil.example.com/cb")],
    }
    for what, ops in refused.items():
        with pytest.raises(ApiException) as raised:
            hydra.patch_o_auth2_client(client_id, ops)
        status, body = api_error(raised)
        assert status == 400, f"{what}: {status} {body}"
        assert body["status_code"] == 400 and body["error"], what
    got = hydra.get_o_auth2_client(client_id)
    assert got.client_name == "tested" and got.owner == "", "a refused patch changed the client"
    assert got.redirect_uris == ["https://app.example.com/cb", "https://app.example.com/cb2"]

    # Patching the secret sets it, as in Hydra: echoed once.
    rotated = new_secret()
    clavis.sensitive.add(rotated)
    answer = hydra.patch_o_auth2_client(client_id, [JsonPatch(op="add", path="/client_secret", value=rotated)])
    assert answer.client_secret == rotated
    tokens.ok(client_id, rotated)
    tokens.refused(client_id, created.client_secret)
    assert hydra.get_o_auth2_client(client_id).client_secret is None


def test_patch_replace_client_secret(clavis, hydra, tokens):
    """`replace /client_secret` is how Hydra users rotate a secret by PATCH: on Hydra the
    patched document is the stored client, secret (hash) included, so the path exists."""
    created = create(clavis, hydra, machine_client())
    rotated = new_secret()
    clavis.sensitive.add(rotated)
    answer = hydra.patch_o_auth2_client(
        created.client_id, [JsonPatch(op="replace", path="/client_secret", value=rotated)]
    )
    assert answer.client_secret == rotated
    tokens.ok(created.client_id, rotated)
    tokens.refused(created.client_id, created.client_secret)


def test_lifespans(clavis, hydra, tokens):
    created = create(clavis, hydra, machine_client(refresh_token_grant_access_token_lifespan="2h0m0s"))
    client_id = created.client_id

    answer = hydra.set_o_auth2_client_lifespans(client_id, OAuth2ClientTokenLifespans(
        client_credentials_grant_access_token_lifespan="90m",
        authorization_code_grant_access_token_lifespan="1h",
        authorization_code_grant_refresh_token_lifespan="720h",
        device_authorization_grant_id_token_lifespan="45s",
    ))
    assert isinstance(answer, OAuth2Client)
    got = hydra.get_o_auth2_client(client_id)
    # Read back as Go formats a time.Duration.
    assert got.client_credentials_grant_access_token_lifespan == "1h30m0s"
    assert got.authorization_code_grant_access_token_lifespan == "1h0m0s"
    assert got.authorization_code_grant_refresh_token_lifespan == "720h0m0s"
    assert got.device_authorization_grant_id_token_lifespan == "45s"
    # The endpoint sets all of them: the one not given is unset now.
    assert got.refresh_token_grant_access_token_lifespan is None
    assert answer.client_credentials_grant_access_token_lifespan == "1h30m0s"
    assert got.client_name == created.client_name and got.scope == created.scope, "other fields changed"
    assert tokens.ok(client_id, created.client_secret)["expires_in"] == 90 * 60

    with pytest.raises(ApiException) as raised:
        hydra.set_o_auth2_client_lifespans(
            client_id, OAuth2ClientTokenLifespans(client_credentials_grant_access_token_lifespan="9000h")
        )
    assert raised.value.status == 400
    assert hydra.get_o_auth2_client(client_id).client_credentials_grant_access_token_lifespan == "1h30m0s"

    # Lifespans of grants Clavis does not serve are refused, not stored and ignored.
    for unserved in ["implicit_grant_access_token_lifespan", "implicit_grant_id_token_lifespan"]:
        with pytest.raises(ApiException) as raised:
            hydra.set_o_auth2_client_lifespans(client_id, OAuth2ClientTokenLifespans(**{unserved: "15m"}))
        status, body = api_error(raised)
        assert (status, body["error"]) == (400, "invalid_client_metadata"), body
        assert unserved in body["error_description"], body


def test_sdk_client_through_the_authms_api(clavis, hydra, authms, tokens):
    secret = new_secret()
    sent = machine_client(
        client_id=unique("sdk-cross"),
        client_secret=secret,
        client_name="cross API",
        grant_types=["client_credentials", "authorization_code", "refresh_token"],
        scope="read write openid",
        redirect_uris=["https://cross.example.com/cb"],
        post_logout_redirect_uris=["https://cross.example.com/bye"],
        allowed_cors_origins=["https://spa.example.com"],
        logo_uri="https://cross.example.com/logo.png",
        policy_uri="https://cross.example.com/privacy",
        tos_uri="https://cross.example.com/tos",
        client_uri="https://cross.example.com/",
        token_endpoint_auth_method="client_secret_post",
        jwks=JsonWebKeySet(keys=[ec_public_jwk("cross-key")]),
        access_token_strategy="opaque",
        client_credentials_grant_access_token_lifespan="20m0s",
    )
    create(clavis, hydra, sent)
    data = authms.get(sent.client_id)
    assert data["client_id"] == sent.client_id
    assert data["name"] == "cross API"
    assert data["scopes"] == ["read", "write", "openid"]
    assert data["redirect_uris"] == sent.redirect_uris
    assert data["post_logout_redirect_uris"] == sent.post_logout_redirect_uris
    assert data["grant_types"] == sent.grant_types
    assert data["logo_url"] == sent.logo_uri
    assert data["privacy_policy"] == sent.policy_uri
    assert data["terms_url"] == sent.tos_uri
    assert data["website"] == sent.client_uri
    assert data["client_auth_methods"][0] == "client_secret_post"
    assert data["is_confidential"] is True
    assert json.loads(data["jwks"]) == sent.jwks.to_dict()
    assert data["access_token_strategy"] == "opaque"
    assert data["token_lifespans"] == {"client_credentials_grant_access_token_lifespan": "20m0s"}
    assert {"https://cross.example.com", "https://spa.example.com"} <= set(data["cors_origins"])
    assert data["status"] == "active"
    assert data["secret_last_four"] == secret[-4:]
    assert "client_secret" not in data

    # An authms update shows through the SDK, and keeps the Hydra-only fields.
    authms.update(sent.client_id, name="renamed by authms", scopes=["read"])
    got = hydra.get_o_auth2_client(sent.client_id)
    assert got.client_name == "renamed by authms" and got.scope == "read"
    assert got.allowed_cors_origins == ["https://spa.example.com"]
    assert got.token_endpoint_auth_method == "client_secret_post"
    tokens.ok(sent.client_id, secret, "client_secret_post")


def test_authms_client_through_the_sdk(clavis, hydra, authms, tokens):
    made = authms.create(
        name="made by authms",
        redirect_uris=["https://authms.example.com/cb"],
        grant_types=["client_credentials", "authorization_code"],
        scopes=["read", "write"],
        client_auth_methods=["client_secret_post", "client_secret_basic"],
        logo_url="https://authms.example.com/logo.png",
        privacy_policy="https://authms.example.com/privacy",
        terms_url="https://authms.example.com/tos",
        website="https://authms.example.com/",
        post_logout_redirect_uris=["https://authms.example.com/bye"],
    )
    client_id, secret = made["client_id"], made["client_secret"]

    got = hydra.get_o_auth2_client(client_id)
    assert got.client_id == client_id
    assert got.client_name == "made by authms"
    assert got.scope == "read write"
    assert got.redirect_uris == ["https://authms.example.com/cb"]
    assert got.grant_types == ["client_credentials", "authorization_code"]
    assert got.token_endpoint_auth_method == "client_secret_post"
    assert got.logo_uri == "https://authms.example.com/logo.png"
    assert got.policy_uri == "https://authms.example.com/privacy"
    assert got.tos_uri == "https://authms.example.com/tos"
    assert got.client_uri == "https://authms.example.com/"
    assert got.post_logout_redirect_uris == ["https://authms.example.com/bye"]
    assert got.client_secret is None
    assert got.created_at is not None and got.updated_at is not None
    listed = [c.client_id for c in hydra.list_o_auth2_clients(client_name="made by authms")]
    assert listed == [client_id]

    # Updated through the SDK (a read-modify-write PUT, then a PATCH) ...
    got.client_name = "updated by the sdk"
    got.contacts = ["sdk@example.com"]
    hydra.set_o_auth2_client(client_id, got)
    new_logo = "https://authms.example.com/new.png"
    hydra.patch_o_auth2_client(client_id, [JsonPatch(op="replace", path="/logo_uri", value=new_logo)])
    # ... it reads back through authms, its second auth method and its secret kept.
    data = authms.get(client_id)
    assert data["name"] == "updated by the sdk"
    assert data["logo_url"] == new_logo
    assert data["scopes"] == ["read", "write"]
    assert data["client_auth_methods"] == ["client_secret_post", "client_secret_basic"]
    assert data["status"] == "active"
    assert data["secret_last_four"] == made["secret_last_four"]
    tokens.ok(client_id, secret, "client_secret_post")
    tokens.ok(client_id, secret, "client_secret_basic")
    assert hydra.get_o_auth2_client(client_id).contacts == ["sdk@example.com"]


def test_authms_client_shows_hydra_defaults(hydra, authms):
    """Hydra fills in subject_type and response_types on every write, so a Hydra client
    always has them; one the authms API registered must read the same way."""
    made = authms.create(grant_types=["client_credentials", "authorization_code"])
    got = hydra.get_o_auth2_client(made["client_id"])
    defaults = {"subject_type": "public", "response_types": ["code"], "access_token_strategy": "jwt", "metadata": {}}
    shown = {k: getattr(got, k) for k in defaults}
    assert shown == defaults, "Hydra's defaults missing from a client the authms API made"


def test_other_tenants_clients_are_invisible(clavis, hydra, authms):
    # The admin token is the default tenant's: a client of tenant acme is not there.
    other = authms.api.create_internal_client("acme", name=unique("acme client"))
    client_id = other["client_id"]
    calls = [
        lambda: hydra.get_o_auth2_client(client_id),
        lambda: hydra.set_o_auth2_client(client_id, machine_client()),
        lambda: hydra.patch_o_auth2_client(client_id, [JsonPatch(op="replace", path="/client_name", value="x")]),
        lambda: hydra.delete_o_auth2_client(client_id),
    ]
    for call in calls:
        with pytest.raises(ApiException) as raised:
            call()
        assert raised.value.status == 404
    assert client_id not in {c.client_id for c in hydra.list_o_auth2_clients(page_size=500)}
    assert hydra.list_o_auth2_clients(client_name=other["name"]) == []


def test_hydra_writes_keep_authms_only_fields(clavis, hydra, authms, tokens):
    created = create(clavis, hydra, machine_client(client_name="to suspend"))
    client_id, secret = created.client_id, created.client_secret
    tokens.ok(client_id, secret)

    assert authms.update(client_id, status="suspended")["status"] == "suspended"
    tokens.refused(client_id, secret)

    # Hydra has no status: a full PUT and a PATCH of the suspended client keep it suspended.
    got = hydra.get_o_auth2_client(client_id)
    got.client_name = "still suspended"
    hydra.set_o_auth2_client(client_id, got)
    assert authms.get(client_id)["status"] == "suspended"
    hydra.set_o_auth2_client(client_id, machine_client(client_name="replaced"))
    assert authms.get(client_id)["status"] == "suspended"
    hydra.patch_o_auth2_client(client_id, [JsonPatch(op="replace", path="/client_name", value="patched")])
    data = authms.get(client_id)
    assert data["status"] == "suspended" and data["name"] == "patched"
    tokens.refused(client_id, secret)

    assert authms.update(client_id, status="active")["status"] == "active"
    tokens.ok(client_id, secret)

    # A FAPI profile (authms only) survives a Hydra PUT too.
    jwks = {"keys": [ec_public_jwk("fapi-key").to_dict()]}
    fapi = authms.create(
        name="fapi client",
        redirect_uris=["https://fapi.example.com/cb"],
        grant_types=["authorization_code"],
        scopes=["openid"],
        client_auth_methods=["private_key_jwt"],
        jwks=json.dumps(jwks),
        fapi_profile="fapi2",
    )
    assert fapi["fapi_profile"] == "fapi2"
    got = hydra.get_o_auth2_client(fapi["client_id"])
    assert got.token_endpoint_auth_method == "private_key_jwt"
    assert got.jwks.to_dict() == jwks
    got.client_name = "fapi client, renamed by the sdk"
    hydra.set_o_auth2_client(fapi["client_id"], got)
    data = authms.get(fapi["client_id"])
    assert data["fapi_profile"] == "fapi2"
    assert data["name"] == "fapi client, renamed by the sdk"
    assert json.loads(data["jwks"]) == jwks


def test_delete(clavis, hydra, authms, tokens):
    created = create(clavis, hydra, machine_client(owner=unique("sdk-doomed")))
    client_id = created.client_id
    tokens.ok(client_id, created.client_secret)

    assert hydra.delete_o_auth2_client(client_id) is None
    with pytest.raises(ApiException) as raised:
        hydra.get_o_auth2_client(client_id)
    assert raised.value.status == 404
    resp = authms.get_response(client_id)
    assert resp.status_code == 404, resp.text
    assert resp.json()["code"] == 404
    assert hydra.list_o_auth2_clients(owner=created.owner) == []
    tokens.refused(client_id, created.client_secret)
    with pytest.raises(ApiException) as raised:
        hydra.delete_o_auth2_client(client_id)
    assert raised.value.status == 404

    # Unlike Hydra (which deletes the row), Clavis deletes softly and never hands a
    # deleted client_id out again (docs/api.md, "Delete"): re-creating it is a conflict.
    secret = new_secret()
    with pytest.raises(ApiException) as raised:
        create(clavis, hydra, machine_client(client_id=client_id, client_secret=secret))
    status, body = api_error(raised)
    assert status == 409, body
    with pytest.raises(ApiException) as raised:
        hydra.get_o_auth2_client(client_id)
    assert raised.value.status == 404
    tokens.refused(client_id, secret)

    # A client the authms API made goes the same way.
    made = authms.create()
    hydra.delete_o_auth2_client(made["client_id"])
    assert authms.get_response(made["client_id"]).status_code == 404
    with pytest.raises(ApiException) as raised:
        hydra.get_o_auth2_client(made["client_id"])
    assert raised.value.status == 404


# Keep this test last: it stops the module's server, so that the log it reads is
# complete (everything the server wrote up to its exit), covering every test above.
def test_admin_introspection_and_token_deletion(clavis, hydra, tokens):
    """introspectOAuth2Token and deleteOAuth2Token, where Hydra v2 serves them (admin)."""
    created = create(clavis, hydra, machine_client())
    token = tokens.ok(created.client_id, created.client_secret, scope="read")["access_token"]
    got = hydra.introspect_o_auth2_token(token=token)
    assert got.active and got.client_id == created.client_id and got.scope == "read"
    assert got.token_use == "access_token" and isinstance(got.aud, list) and got.exp > got.iat
    assert hydra.introspect_o_auth2_token(token=token, scope="read").active
    assert not hydra.introspect_o_auth2_token(token=token, scope="write").active, "scope is a requirement"
    assert not hydra.introspect_o_auth2_token(token="not-a-token").active
    hydra.delete_o_auth2_token(client_id=created.client_id)
    assert not hydra.introspect_o_auth2_token(token=token).active, "deleteOAuth2Token ends the client's tokens"


def test_discovery_and_a_device_request_through_the_sdk(clavis, hydra):
    """discoverOidcConfiguration (whose model requires Hydra's own fields), discoverJsonWebKeys,
    and oAuth2DeviceFlow, which sends no body: the client authenticates by Basic alone."""
    from ory_hydra_client import OidcApi, WellknownApi

    with ApiClient(Configuration(host=clavis.public_url)) as api_client:
        conf = OidcApi(api_client).discover_oidc_configuration()
        assert conf.device_authorization_endpoint == f"{clavis.public_url}/oauth2/device/auth"
        assert conf.id_token_signed_response_alg[0] == "RS256" and conf.userinfo_signed_response_alg
        assert {k.alg for k in WellknownApi(api_client).discover_json_web_keys().keys} >= {"RS256", "ES256"}
    tv = create(clavis, hydra, machine_client(grant_types=[DEVICE_CODE], scope="openid"))
    clavis.sensitive.add(basic_credentials(tv.client_id, tv.client_secret))
    # The operation declares no authentication and no body: the caller adds its Basic header.
    basic = {"Authorization": f"Basic {basic_credentials(tv.client_id, tv.client_secret)}"}
    with ApiClient(Configuration(host=clavis.public_url)) as api_client:
        device = OAuth2Api(api_client).o_auth2_device_flow(_headers=basic)
    clavis.sensitive.add(device.device_code)
    assert device.verification_uri_complete == f"{device.verification_uri}?user_code={device.user_code}"
    assert device.expires_in == 600 and device.interval == 5


def test_get_version_on_both_listeners(clavis):
    for host in (clavis.admin_url, clavis.public_url):
        with ApiClient(Configuration(host=host)) as api_client:
            assert MetadataApi(api_client).get_version().version, host


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def private_ec_jwk(kid):
    """A fresh P-256 key as a private JWK, as one would export it from Hydra."""
    key = ec.generate_private_key(ec.SECP256R1())
    n = key.public_key().public_numbers()
    return JsonWebKey(kty="EC", crv="P-256", kid=kid, alg="ES256", use="sig", x=b64url(n.x.to_bytes(32, "big")),
                      y=b64url(n.y.to_bytes(32, "big")), d=b64url(key.private_numbers().private_value.to_bytes(32, "big")))


def private_ed25519_jwk(kid):
    key = ed25519.Ed25519PrivateKey.generate()
    d = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    x = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return JsonWebKey(kty="OKP", crv="Ed25519", kid=kid, alg="EdDSA", use="sig", x=b64url(x), d=b64url(d))


def test_every_jwk_operation_on_a_tenants_signing_keys(clavis, admin_token):
    """The SDK's seven JwkApi operations, in a tenant of their own (deleting a set ends
    every token of the tenant, the admin's too)."""
    tenant = unique("jwk")
    api = AdminApi(clavis, admin_token)
    admin = api.create_internal_client(tenant, scopes=["admin"])
    machine = api.create_internal_client(tenant)
    token_endpoint = discover(clavis, tenant)["token_endpoint"]
    token = fetch_token(clavis, admin, "client_secret_basic", token_endpoint)["access_token"]
    with ApiClient(Configuration(host=clavis.admin_url), header_name="Authorization", header_value=f"Bearer {token}") as api_client:
        jwk = JwkApi(api_client)
        assert jwk.get_json_web_key_set("hydra.openid.id-token").keys[0].alg == "RS256"
        made = jwk.create_json_web_key_set("hydra.jwt.access-token", CreateJsonWebKeySet(alg="ES256", kid="sdk-es", use="sig"))
        assert [(k.kid, k.alg, k.d) for k in made.keys] == [("sdk-es", "ES256", None)]
        access = fetch_token(clavis, machine, "client_secret_basic", token_endpoint)["access_token"]
        assert jwt_header(access)["kid"] == "sdk-es", "the new key signs the set's tokens"
        assert [k.kid for k in jwk.get_json_web_key("hydra.jwt.access-token", "sdk-es").keys] == ["sdk-es"]

        put = jwk.set_json_web_key("hydra.openid.id-token", "sdk-imported", private_ec_jwk("sdk-imported"))
        assert (put.kid, put.d) == ("sdk-imported", None)
        whole = jwk.set_json_web_key_set("hydra.openid.id-token", JsonWebKeySet(keys=[private_ed25519_jwk("sdk-ed")]))
        assert [(k.kid, k.crv, k.d) for k in whole.keys] == [("sdk-ed", "Ed25519", None)]
        assert jwk.get_json_web_key_set("hydra.openid.id-token").keys[0].kid == "sdk-ed"
        jwk.delete_json_web_key("hydra.openid.id-token", "sdk-imported")
        with pytest.raises(ApiException) as raised:
            jwk.get_json_web_key("hydra.openid.id-token", "sdk-imported")
        assert api_error(raised)[0] == 404 and api_error(raised)[1]["error"] == "not_found"
        with pytest.raises(ApiException) as raised:
            jwk.create_json_web_key_set("hydra.jwt.access-token", CreateJsonWebKeySet(alg="HS256", kid="", use="sig"))
        assert raised.value.status == 400

        jwk.delete_json_web_key_set("hydra.jwt.access-token")
        with pytest.raises(ApiException) as raised:
            jwk.get_json_web_key_set("hydra.jwt.access-token")
        assert raised.value.status == 401, "every token signed before, the admin's own, stops verifying"
    fresh = fetch_token(clavis, admin, "client_secret_basic", token_endpoint)["access_token"]
    with ApiClient(Configuration(host=clavis.admin_url), header_name="Authorization", header_value=f"Bearer {fresh}") as api_client:
        kids = [k.kid for k in JwkApi(api_client).get_json_web_key_set("hydra.jwt.access-token").keys]
        assert len(kids) == 4 and not {"sdk-es", "sdk-ed"} & set(kids)


def test_trusted_issuers_and_the_jwt_bearer_grant_with_authlib(clavis, hydra, root):
    """The trust API's four operations through the SDK; authlib's AssertionSession (RFC 7523)
    gets a token for the trusted subject with the trusted key, until the trust ends."""
    issuer, kid = f"https://{unique('partner')}.example", unique("partner-key")
    key = ec.generate_private_key(ec.SECP256R1())
    n = key.public_key().public_numbers()
    jwk = JsonWebKey(kty="EC", crv="P-256", kid=kid, alg="ES256", use="sig", x=b64url(n.x.to_bytes(32, "big")), y=b64url(n.y.to_bytes(32, "big")))
    trusted = hydra.trust_o_auth2_jwt_grant_issuer(TrustOAuth2JwtGrantIssuer(
        issuer=issuer, subject="alice", scope=["read"], jwk=jwk, expires_at=datetime.now(timezone.utc) + timedelta(hours=1)))
    assert (trusted.issuer, trusted.subject, trusted.scope) == (issuer, "alice", ["read"])
    assert (trusted.public_key.set, trusted.public_key.kid) == (issuer, kid)
    assert hydra.get_trusted_o_auth2_jwt_grant_issuer(trusted.id).expires_at == trusted.expires_at
    assert [t.id for t in hydra.list_trusted_o_auth2_jwt_grant_issuers(issuer=issuer)] == [trusted.id]

    client = create(clavis, hydra, machine_client(grant_types=[JWT_BEARER]))
    signing_key = ECKey.import_key(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    session = AssertionSession(root["token_endpoint"], issuer=issuer, subject="alice", key=signing_key, header={"alg": "ES256", "kid": kid}, scope="read")
    session.auth = (client.client_id, client.client_secret)
    token = session.refresh_token()
    clavis.sensitive.add(token["access_token"])
    assert token["scope"] == "read" and "refresh_token" not in token
    got = hydra.introspect_o_auth2_token(token=token["access_token"])
    assert (got.active, got.sub, got.client_id) == (True, "alice", client.client_id)
    assert session.refresh_token()["access_token"], "a new assertion (new jti) each time"

    hydra.delete_trusted_o_auth2_jwt_grant_issuer(trusted.id)
    with pytest.raises(OAuth2Error) as raised:
        session.refresh_token()
    assert raised.value.error == "invalid_grant"
    with pytest.raises(ApiException) as raised:
        hydra.get_trusted_o_auth2_jwt_grant_issuer(trusted.id)
    assert api_error(raised)[0] == 404


def test_token_exchange_with_authlib(clavis, hydra, root):
    """RFC 8693 through authlib's OAuth2Session: a resource server (its client made with the
    SDK) exchanges the token it was called with; the SDK's introspection sees whose it is."""
    access = "urn:ietf:params:oauth:token-type:access_token"
    api = create(clavis, hydra, machine_client(grant_types=["client_credentials", TOKEN_EXCHANGE], scope="read"))
    caller = create(clavis, hydra, machine_client(scope="read write", audience=[api.client_id]))
    endpoint = root["token_endpoint"]
    caller_session = OAuth2Session(caller.client_id, caller.client_secret, token_endpoint_auth_method="client_secret_basic")
    subject = caller_session.fetch_token(endpoint, grant_type="client_credentials", scope="read write", audience=api.client_id)["access_token"]
    session = OAuth2Session(api.client_id, api.client_secret, token_endpoint_auth_method="client_secret_basic")
    token = session.fetch_token(endpoint, grant_type=TOKEN_EXCHANGE, subject_token=subject, subject_token_type=access)
    clavis.sensitive |= {subject, token["access_token"], basic_credentials(api.client_id, api.client_secret),
                         basic_credentials(caller.client_id, caller.client_secret)}
    assert token["issued_token_type"] == access and token["scope"] == "read" and "refresh_token" not in token
    got = hydra.introspect_o_auth2_token(token=token["access_token"])
    assert (got.active, got.sub, got.client_id) == (True, caller.client_id, api.client_id)
    with pytest.raises(OAuthError) as raised:
        session.fetch_token(endpoint, grant_type=TOKEN_EXCHANGE, subject_token=subject, subject_token_type=access, scope="write")
    assert raised.value.error == "invalid_scope"


def test_no_secret_or_token_in_the_log(clavis, hydra, tokens):
    # Traffic of its own, so that it checks something when run alone too: a supplied
    # secret, a generated one, one set by PUT and one by PATCH, each used for a token.
    supplied = new_secret()
    created = create(clavis, hydra, machine_client(client_secret=supplied))
    tokens.ok(created.client_id, supplied)
    generated = create(clavis, hydra, machine_client())
    tokens.ok(generated.client_id, generated.client_secret)
    tokens.refused(generated.client_id, new_secret())

    by_put = new_secret()
    clavis.sensitive.add(by_put)
    hydra.set_o_auth2_client(created.client_id, machine_client(client_secret=by_put))
    tokens.ok(created.client_id, by_put)
    by_patch = new_secret()
    clavis.sensitive.add(by_patch)
    hydra.patch_o_auth2_client(created.client_id, [JsonPatch(op="add", path="/client_secret", value=by_patch)])
    tokens.ok(created.client_id, by_patch)
    with pytest.raises(ApiException):  # a refused create that carried a secret
        create(clavis, hydra, machine_client(client_id=created.client_id, client_secret=new_secret()))

    # Stops the server, then looks for every value in `clavis.sensitive` in its log.
    assert clavis.check_log() > 10
