"""Rich authorization requests (RFC 9396) with Authlib as the relying party: it sends
`authorization_details` with its authorization request (PKCE), the consent app grants a
narrowed set, and Authlib's token response carries what was granted; joserfc reads it
from the verified access token.
"""

import json

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt

from test_dpop_requests_oauth2client import REDIRECT, setup  # noqa: F401 (setup is a fixture)
from test_authlib_code_flow import Browser, query

DETAILS = [
    {"type": "payment_initiation", "instructedAmount": {"currency": "EUR", "amount": "42.00"}, "creditorName": "Shop"},
    {"type": "account_information", "actions": ["list_accounts"]},
]


def test_authlib_sends_authorization_details_and_gets_the_granted_ones(clavis, setup):  # noqa: F811
    metadata, api, app, jwks = setup
    resp = api.session.post(f"{clavis.admin_url}/admin/clients", timeout=10, json={
        "redirect_uris": [REDIRECT], "grant_types": ["authorization_code"], "scope": "openid",
        "token_endpoint_auth_method": "client_secret_basic", "authorization_details_types": ["payment_initiation", "account_information"]})
    assert resp.status_code == 201, resp.text
    c = resp.json()
    clavis.sensitive.add(c["client_secret"])
    session = OAuth2Session(c["client_id"], c["client_secret"], scope="openid", redirect_uri=REDIRECT, code_challenge_method="S256")
    verifier = generate_token(48)
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier,
                                                  authorization_details=json.dumps(DETAILS))
    browser = Browser()
    challenge = query(browser.redirected(url, clavis.login_url))["login_challenge"]
    consent_challenge = query(browser.redirected(app.accept_login(challenge), clavis.consent_url))["consent_challenge"]
    request = app.consent_request(consent_challenge)
    assert request["requested_authorization_details"] == DETAILS
    granted = [DETAILS[0]]
    body = {"grant_scope": ["openid"], "grant_authorization_details": granted, "session": {"id_token": {}, "access_token": {}}}
    back = app.ok(app.call("PUT", "consent/accept", "consent_challenge", consent_challenge, body))["redirect_to"]
    resp = browser.get(back)
    assert resp.status_code == 303, resp.text
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=resp.headers["Location"], state=state, code_verifier=verifier)
    clavis.sensitive |= {token["access_token"], token.get("id_token", "")} - {""}
    assert token["authorization_details"] == granted
    assert jwt.decode(token["access_token"], jwks).claims["authorization_details"] == granted


def test_no_secret_or_token_in_the_log(clavis, setup):  # noqa: F811
    assert clavis.check_log() > 3
