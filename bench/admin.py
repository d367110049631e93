#!/usr/bin/env python3
"""Admin-API helper for bench/run.sh (Python standard library only).

    admin.py setup   PUBLIC_ADDR ADMIN_ADDR      creates the benchmark client, checks that it
                                                  gets an ES256 access token, and prints
                                                  CLIENT_ID=... / CLIENT_SECRET=... lines
    admin.py creates PUBLIC_ADDR ADMIN_ADDR N     N sequential client creations on one
                                                  keep-alive connection; prints one
                                                  "CREATE n=... p50_ms=... ..." line
    admin.py families PUBLIC_ADDR ADMIN_ADDR N FILE
                                                  a web client and N authorization code
                                                  flows (this script plays browser and
                                                  login/consent app); writes the N refresh
                                                  tokens to FILE, prints WEB_BASIC=...
    admin.py access-token PUBLIC_ADDR ID SECRET   prints a client_credentials access token

The bootstrap admin credentials come from the environment (BENCH_ADMIN_ID,
BENCH_ADMIN_SECRET), not from the command line. Addresses must be 127.0.0.1:PORT.
Every socket operation has a timeout, and `creates` has an overall deadline.
"""

import base64
import os
import http.client
import json
import statistics
import sys
import time

TIMEOUT_S = 10
CREATE_DEADLINE_S = 300


def die(msg):
    print(f"admin.py: {msg}", file=sys.stderr)
    sys.exit(1)


def split_addr(addr):
    host, _, port = addr.rpartition(":")
    if host != "127.0.0.1" or not port.isdigit():
        die(f"refusing address {addr!r}: only 127.0.0.1:PORT is allowed")
    return host, int(port)


def conn(addr):
    host, port = split_addr(addr)
    return http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)


def request(c, method, path, body, headers):
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    return r.status, data


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token(public, client_id, secret):
    c = conn(public)
    try:
        status, data = request(
            c, "POST", "/oauth2/token", "grant_type=client_credentials",
            {"Authorization": basic(client_id, secret),
             "Content-Type": "application/x-www-form-urlencoded"})
    finally:
        c.close()
    if status != 200:
        die(f"token request for {client_id!r}: HTTP {status}: {data[:300]!r}")
    return json.loads(data)


def admin_token(public):
    cid, secret = os.environ.get("BENCH_ADMIN_ID"), os.environ.get("BENCH_ADMIN_SECRET")
    if not cid or not secret:
        die("BENCH_ADMIN_ID and BENCH_ADMIN_SECRET must be set")
    return token(public, cid, secret)["access_token"]


def create_body(name):
    return json.dumps({
        "name": name,
        "redirect_uris": ["https://app.example.com/cb"],
        "grant_types": ["client_credentials"],
        "scopes": ["read", "write"],
    })


def create(c, bearer, name):
    status, data = request(
        c, "POST", "/admin/oauth/clients", create_body(name),
        {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"})
    if status != 201:
        die(f"create client {name!r}: HTTP {status}: {data[:300]!r}")
    return json.loads(data)["data"]


def jwt_header(tok):
    head = tok.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def cmd_setup(public, admin):
    bearer = admin_token(public)
    c = conn(admin)
    try:
        client = create(c, bearer, "bench")
    finally:
        c.close()
    cid, secret = client["client_id"], client["client_secret"]
    # The benchmark client must get a real ES256 access token before the load starts.
    t = token(public, cid, secret)
    alg = jwt_header(t["access_token"]).get("alg")
    if alg != "ES256" or t.get("token_type") != "Bearer":
        die(f"unexpected token response: alg={alg!r} token_type={t.get('token_type')!r}")
    print(f"CLIENT_ID={cid}")
    print(f"CLIENT_SECRET={secret}")


def percentile(sorted_xs, p):
    """Nearest-rank percentile."""
    k = max(1, -(-len(sorted_xs) * p // 100))  # ceil(n * p / 100)
    return sorted_xs[int(k) - 1]


def cmd_creates(public, admin, n):
    bearer = admin_token(public)
    c = conn(admin)
    deadline = time.monotonic() + CREATE_DEADLINE_S
    lat_ms = []
    try:
        # One untimed request first, so the connection is open before timing starts.
        create(c, bearer, "bench-create-warmup")
        for i in range(n):
            if time.monotonic() > deadline:
                die(f"creates: deadline of {CREATE_DEADLINE_S}s passed after {i} requests")
            t0 = time.perf_counter()
            create(c, bearer, f"bench-create-{i}")
            lat_ms.append((time.perf_counter() - t0) * 1000.0)
    finally:
        c.close()
    xs = sorted(lat_ms)
    print("CREATE n=%d p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f min_ms=%.3f max_ms=%.3f" % (
        n, percentile(xs, 50), percentile(xs, 99), statistics.fmean(xs), xs[0], xs[-1]))


def flow(public, admin, bearer, client_id, secret):
    """One authorization code flow with PKCE; returns the refresh token."""
    import hashlib
    import secrets
    import urllib.parse

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": "https://app.example.com/cb",
        "scope": "offline_access", "state": "bench-state-1", "code_challenge": challenge,
        "code_challenge_method": "S256"})

    # The browser's cookies (name -> value): the flow's binding cookie must come back with
    # the login and consent verifiers, as a browser would send it.
    cookies = {}

    def get_location(path_and_query):
        c = conn(public)
        try:
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
            c.request("GET", path_and_query, headers=headers)
            r = c.getresponse()
            body = r.read()
            loc = r.getheader("Location")
            for set_cookie in r.headers.get_all("Set-Cookie") or []:
                name, _, value = set_cookie.split(";", 1)[0].partition("=")
                cookies[name.strip()] = value.strip()
        finally:
            c.close()
        if not loc:
            die(f"no redirect from {path_and_query[:80]!r}: HTTP {r.status}: {body[:200]!r}")
        return loc

    def param(url, name):
        return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)[name][0]

    def accept(kind, challenge, body):
        c = conn(admin)
        try:
            status, data = request(
                c, "PUT", f"/admin/oauth2/auth/requests/{kind}/accept?{kind}_challenge={urllib.parse.quote(challenge)}",
                json.dumps(body), {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"})
        finally:
            c.close()
        if status != 200:
            die(f"{kind} accept: HTTP {status}: {data[:200]!r}")
        to = urllib.parse.urlsplit(json.loads(data)["redirect_to"])
        return to.path + "?" + to.query

    loc = get_location("/oauth2/auth?" + query)
    loc = get_location(accept("login", param(loc, "login_challenge"), {"subject": "bench-user"}))
    loc = get_location(accept("consent", param(loc, "consent_challenge"), {"grant_scope": ["offline_access"]}))
    c = conn(public)
    try:
        status, data = request(
            c, "POST", "/oauth2/token",
            urllib.parse.urlencode({"grant_type": "authorization_code", "code": param(loc, "code"),
                                    "redirect_uri": "https://app.example.com/cb", "code_verifier": verifier}),
            {"Authorization": basic(client_id, secret), "Content-Type": "application/x-www-form-urlencoded"})
    finally:
        c.close()
    if status != 200:
        die(f"code exchange: HTTP {status}: {data[:200]!r}")
    return json.loads(data)["refresh_token"]


def cmd_families(public, admin, n, path):
    bearer = admin_token(public)
    c = conn(admin)
    try:
        status, data = request(
            c, "POST", "/admin/oauth/clients",
            json.dumps({"name": "bench-web", "redirect_uris": ["https://app.example.com/cb"],
                        "grant_types": ["authorization_code", "refresh_token"], "scopes": ["offline_access"]}),
            {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"})
    finally:
        c.close()
    if status != 201:
        die(f"create web client: HTTP {status}: {data[:300]!r}")
    web = json.loads(data)["data"]
    tokens = [flow(public, admin, bearer, web["client_id"], web["client_secret"]) for _ in range(n)]
    with open(path, "w") as f:
        f.write("\n".join(tokens) + "\n")
    print("WEB_BASIC=" + basic(web["client_id"], web["client_secret"]).split(" ", 1)[1])


def main(argv):
    if len(argv) == 4 and argv[1] == "setup":
        cmd_setup(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "creates" and argv[4].isdigit() and int(argv[4]) > 0:
        cmd_creates(argv[2], argv[3], int(argv[4]))
    elif len(argv) == 6 and argv[1] == "families" and argv[4].isdigit() and int(argv[4]) > 0:
        cmd_families(argv[2], argv[3], int(argv[4]), argv[5])
    elif len(argv) == 5 and argv[1] == "access-token":
        print(token(argv[2], argv[3], argv[4])["access_token"])
    else:
        die(__doc__)


if __name__ == "__main__":
    main(sys.argv)
