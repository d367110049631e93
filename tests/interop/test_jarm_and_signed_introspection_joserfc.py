"""JWT-secured authorization responses (JARM) and signed introspection responses
(RFC 9701), checked as a relying party and a resource server would: with `joserfc`
(signature against the issuer's JWKS, `iss`/`aud`/`exp` by its claims registry) and
`requests`, after a browser trip through login and consent.
"""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jws, jwt
from joserfc.jwt import JWTClaimsRegistry

from clavis_interop import http
from test_dpop_requests_oauth2client import REDIRECT, setup, sign_in  # noqa: F401 (setup is a fixture)


def checked(jwks, token, issuer, audience, expires=True):
    """The claims of a JWT the issuer signed for `audience`, validated by joserfc (a JARM
    response must expire; a signed introspection answer has `iat` only)."""
    claims = jwt.decode(token, jwks).claims
    JWTClaimsRegistry(iss={"essential": True, "value": issuer}, aud={"essential": True, "value": audience},
                      exp={"essential": expires}).validate(claims)
    return claims


def test_jarm_query_jwt_response_verifies_and_its_code_redeems(clavis, setup):  # noqa: F811
    metadata, api, app, jwks = setup
    assert "query.jwt" in metadata["response_modes_supported"] and "ES256" in metadata["authorization_signing_alg_values_supported"]
    c = api.create_client(name="jarm-rp", redirect_uris=[REDIRECT], grant_types=["authorization_code"], scopes=["openid"],
                          client_auth_methods=["client_secret_basic"])
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    query = {"response_type": "code", "client_id": c["client_id"], "redirect_uri": REDIRECT, "scope": "openid", "state": state,
             "code_challenge": challenge, "code_challenge_method": "S256", "response_mode": "jwt"}
    back = sign_in(clavis, app, metadata["authorization_endpoint"] + "?" + urlencode(query))
    params = parse_qs(urlsplit(back).query)
    assert set(params) == {"response"}, params
    claims = checked(jwks, params["response"][0], metadata["issuer"], c["client_id"])
    assert claims["state"] == state
    token = http().post(metadata["token_endpoint"], auth=(c["client_id"], c["client_secret"]), timeout=10, data={
        "grant_type": "authorization_code", "code": claims["code"], "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    clavis.sensitive |= {token.json()["access_token"], claims["code"], params["response"][0]}

    # RFC 9701: the resource server asks for a signed answer.
    rs = api.create_client(name="jarm-rs", client_auth_methods=["client_secret_basic"])
    resp = http().post(metadata["introspection_endpoint"], auth=(rs["client_id"], rs["client_secret"]), timeout=10,
                       headers={"Accept": "application/token-introspection+jwt"}, data={"token": token.json()["access_token"]})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/token-introspection+jwt", resp.text
    assert jws.extract_compact(resp.text.encode()).protected["typ"] == "token-introspection+jwt"
    answer = checked(jwks, resp.text, metadata["issuer"], rs["client_id"], expires=False)
    assert "active" in answer["token_introspection"]


def test_no_secret_or_token_in_the_log(clavis, setup):  # noqa: F811
    assert clavis.check_log() > 3
