"""Mutual TLS (RFC 8705) as a Python client does it: `requests` with a client
certificate (`cert=`) against the mTLS listener that discovery's `mtls_endpoint_aliases`
names, the server verified against the test's CA. The certificates are made here with
`cryptography`; access tokens are checked with `joserfc` against the JWKS.
"""

import base64
import datetime
import hashlib
import ipaddress
import tempfile
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from joserfc import jwt
from joserfc.jwk import KeySet

from clavis_interop import AdminApi, discover, fetch_token, http

DIR = Path(tempfile.mkdtemp(prefix="clavis-mtls-interop-"))


def make(subject, issuer_name=None, issuer_key=None, ca=False, san=None, client=False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bank"), x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if client:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert, key


def write(name, cert, key):
    (DIR / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (DIR / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(DIR / f"{name}.pem"), str(DIR / f"{name}.key")


CA, CA_KEY = make("interop CA", ca=True)
SERVER = write("server", *make("127.0.0.1", CA.subject, CA_KEY, san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]))
CLIENT_CERT, CLIENT_KEY = make("bank-client", CA.subject, CA_KEY, san=[x509.DNSName("client.bank.example")], client=True)
CLIENT = write("client", CLIENT_CERT, CLIENT_KEY)
write("ca", CA, CA_KEY)
CLAVIS_ENV = {
    "CLAVIS_MTLS_ADDR": "127.0.0.1:0",
    "CLAVIS_MTLS_CERT": SERVER[0],
    "CLAVIS_MTLS_KEY": SERVER[1],
    "CLAVIS_MTLS_CLIENT_CA": str(DIR / "ca.pem"),
}


def x5t(cert):
    return base64.urlsafe_b64encode(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()).rstrip(b"=").decode()


def mtls_post(url, data):
    """POSTs over mutual TLS with the client certificate. `verify` is passed per request:
    a session's would lose to REQUESTS_CA_BUNDLE from the environment."""
    return requests.post(url, data=data, cert=CLIENT, verify=str(DIR / "ca.pem"), timeout=10)


def test_tls_client_auth_and_a_certificate_bound_token(clavis):
    metadata = discover(clavis)
    aliases = metadata["mtls_endpoint_aliases"]
    admin = {"client_id": clavis.bootstrap_client_id, "client_secret": clavis.bootstrap_secret}
    api = AdminApi(clavis, fetch_token(clavis, admin, "client_secret_basic", metadata["token_endpoint"], scope="admin")["access_token"])
    resp = api.session.post(f"{clavis.admin_url}/admin/clients", timeout=10, json={
        "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_subject_dn": "CN=bank-client,O=Bank", "tls_client_certificate_bound_access_tokens": True})
    assert resp.status_code == 201, resp.text
    client_id = resp.json()["client_id"]

    token = mtls_post(aliases["token_endpoint"], {"grant_type": "client_credentials", "client_id": client_id})
    assert token.status_code == 200, token.text
    access_token = token.json()["access_token"]
    clavis.sensitive.add(access_token)
    jwks = KeySet.import_key_set(http().get(metadata["jwks_uri"], timeout=10).json())
    assert jwt.decode(access_token, jwks).claims["cnf"]["x5t#S256"] == x5t(CLIENT_CERT)

    # The same client without its certificate, at the public listener: refused.
    plain = http().post(metadata["token_endpoint"], data={"grant_type": "client_credentials", "client_id": client_id}, timeout=10)
    assert plain.status_code == 401

    # A resource server introspects over mTLS, authenticated by the same kind of certificate.
    resp = api.session.post(f"{clavis.admin_url}/admin/clients", timeout=10, json={
        "grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_san_dns": "client.bank.example"})
    assert resp.status_code == 201, resp.text
    rs = resp.json()["client_id"]
    found = mtls_post(aliases["introspection_endpoint"], {"token": access_token, "client_id": rs})
    assert found.status_code == 200, found.text
    answer = found.json()
    if answer["active"]:  # the tenant's policy decides whether it sees another client's token
        assert answer["cnf"]["x5t#S256"] == x5t(CLIENT_CERT)


def test_no_secret_or_token_in_the_log(clavis):
    assert clavis.check_log() > 2
