"""Helpers shared by the interoperability test modules (not a test module itself).

Everything that talks to Clavis here does it as a third party would: plain HTTP with
`requests`, and Authlib's OAuth 2.0 client for the OAuth parts.
"""

import base64
import json
import warnings

import requests
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():
    # authlib.jose warns at import that it is deprecated in favour of joserfc; it stays
    # Authlib's JOSE API until 2.0 (see requirements.txt), and is what we exercise here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.jose import JsonWebKey, JsonWebToken

# Only the algorithms Clavis signs with are allowed: a token signed with anything else
# (none, HS256 keyed with a public key, …) does not decode at all.
jwt = JsonWebToken(["RS256", "PS256", "ES256", "EdDSA"])

def jwt_header(token):
    """The JOSE header of a compact JWT, unverified."""
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


BOTH_METHODS = ["client_secret_basic", "client_secret_post"]
# The client authentication methods that need a client_secret (private_key_jwt and none do not).
SECRET_METHODS = {"client_secret_basic", "client_secret_post", "client_secret_jwt"}


def http():
    # trust_env off: a proxy from the environment must not intercept 127.0.0.1.
    s = requests.Session()
    s.trust_env = False
    return s


def oauth_session(client_id, client_secret, method, **kwargs):
    s = OAuth2Session(client_id, client_secret, token_endpoint_auth_method=method, default_timeout=10, **kwargs)
    s.trust_env = False
    return s


def issuer_base(clavis, tenant=None):
    return clavis.public_url if tenant is None else f"{clavis.public_url}/t/{tenant}"


def discover(clavis, tenant=None):
    resp = http().get(issuer_base(clavis, tenant) + "/.well-known/openid-configuration", timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def fetch_jwks(metadata):
    resp = http().get(metadata["jwks_uri"], timeout=10)
    assert resp.status_code == 200, resp.text
    return JsonWebKey.import_key_set(resp.json())


def basic_credentials(client_id, client_secret):
    """What authlib puts after `Basic ` — a log line holding it leaks the secret too."""
    return base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


def fetch_token(clavis, client, method, token_endpoint, **params):
    """A client_credentials token through authlib; remembers what must never be logged."""
    clavis.sensitive |= {client["client_secret"], basic_credentials(client["client_id"], client["client_secret"])}
    token = oauth_session(client["client_id"], client["client_secret"], method).fetch_token(
        token_endpoint, grant_type="client_credentials", **params
    )
    clavis.sensitive.add(token["access_token"])
    return token


class AdminApi:
    """The admin API (as an admin client of one tenant) and the internal API."""

    def __init__(self, clavis, admin_token):
        self.clavis = clavis
        self.admin_token = admin_token
        self.session = http()
        self.session.headers["Authorization"] = f"Bearer {admin_token}"

    @staticmethod
    def body(**fields):
        body = {
            "name": "interop",
            "redirect_uris": ["https://app.example.com/cb"],
            "grant_types": ["client_credentials"],
            "scopes": ["read", "write"],
            "client_auth_methods": BOTH_METHODS,
        }
        body.update(fields)
        return body

    def created(self, resp):
        assert resp.status_code == 201, resp.text
        data = resp.json()["data"]
        assert data["client_id"]
        if data["is_confidential"] and SECRET_METHODS & set(data["client_auth_methods"]):
            assert data["client_secret"]
            self.clavis.sensitive.add(data["client_secret"])
        else:  # public, or authenticated by its key (private_key_jwt) only
            assert not data.get("client_secret"), "a client that has no use for a secret got one"
        return data

    def create_client(self, **fields):
        resp = self.session.post(f"{self.clavis.admin_url}/admin/oauth/clients", json=self.body(**fields), timeout=10)
        return self.created(resp)

    def create_internal_client(self, tenant, **fields):
        resp = http().post(
            f"{self.clavis.admin_url}/internal/oauth/clients",
            json=self.body(**fields),
            headers={"X-API-Key": self.clavis.internal_api_key, "X-Tenant-ID": tenant},
            timeout=10,
        )
        return self.created(resp)

    def update_client(self, client_id, **fields):
        resp = self.session.put(f"{self.clavis.admin_url}/admin/oauth/clients/{client_id}", json=fields, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()["data"]
