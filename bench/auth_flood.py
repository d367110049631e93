#!/usr/bin/env python3
"""Unauthenticated memory and CPU through client authentication: floods of wrong secrets for
clients whose secrets are argon2id hashes (caller-chosen, 19 MiB per verification), at every
endpoint that authenticates clients, and how far the server's memory moves.

Usage:  python3 bench/auth_flood.py [path/to/clavis]   (default: target/release/clavis)

All on 127.0.0.1: starts `clavis serve` on ephemeral loopback ports with a fresh SQLite data
dir, creates argon2id clients through the Hydra admin API, then per endpoint (token,
introspect, revoke, PAR) sends
  - "one id":   100 parallel wrong-secret requests for one client, and
  - "100 ids":  1 wrong-secret request for each of 100 different clients, all in parallel
                (no per-id backoff helps here: only the KDF bound does),
and reports the answers (401 tried, 429 refused at once), wall time, the server's CPU time,
and its RSS (VmRSS after, VmHWM peak) against the idle RSS measured before the floods.
Fails (exit 1) if the peak grows more than 128 MiB over idle. Stops the server whatever
happens; every request has a timeout.
"""
import base64
import concurrent.futures as cf
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

LIMIT_MIB = 128
PARALLEL = 100
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN_ID, ADMIN_SECRET = "bench-admin", "bench-admin-secret-" + "x" * 24


def status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # MiB
    raise RuntimeError(field)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request(method, url, body=None, headers=None, form=None):
    headers = dict(headers or {})
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def basic(client_id, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/clavis")
    if not os.path.exists(binary):
        sys.exit(f"{binary} not found: cargo build --release -p clavis --bin clavis")
    work = tempfile.mkdtemp(prefix="clavis-flood-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAVIS_")}
    env.update(CLAVIS_PUBLIC_ADDR="127.0.0.1:0", CLAVIS_ADMIN_ADDR="127.0.0.1:0", CLAVIS_DATA_DIR=work,
               CLAVIS_BOOTSTRAP_CLIENT_ID=ADMIN_ID, CLAVIS_BOOTSTRAP_CLIENT_SECRET=ADMIN_SECRET,
               CLAVIS_LOG_FORMAT="json", CLAVIS_LOG="warn,clavis=info,clavis::access=warn")
    log = open(os.path.join(work, "server.log"), "w+")
    server = subprocess.Popen([binary, "serve"], cwd=work, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        public = admin = None
        while public is None:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("the server did not start")
            log.seek(0)
            m = re.search(r'"public_addr":"(127\.0\.0\.1:\d+)".*"admin_addr":"(127\.0\.0\.1:\d+)"', log.read())
            if m:
                public, admin = f"http://{m.group(1)}", f"http://{m.group(2)}"
            time.sleep(0.1)
        s, body = request("POST", f"{public}/oauth2/token", form={"grant_type": "client_credentials"}, headers=basic(ADMIN_ID, ADMIN_SECRET))
        assert s == 200, body
        bearer = {"Authorization": "Bearer " + json.loads(body)["access_token"]}
        ids = []
        for i in range(PARALLEL):
            cid = f"weak-{i}"
            s, body = request("POST", f"{admin}/admin/clients", headers=bearer, body={
                "client_id": cid, "client_secret": f"weak-secret-{i}", "grant_types": ["client_credentials", "authorization_code"],
                "scope": "read", "redirect_uris": ["https://a.example/cb"]})
            assert s == 201, body
            ids.append(cid)
        endpoints = {
            "token": ("/oauth2/token", {"grant_type": "client_credentials"}),
            "introspect": ("/oauth2/introspect", {"token": "x"}),
            "revoke": ("/oauth2/revoke", {"token": "x"}),
            "par": ("/oauth2/par", {"response_type": "code", "state": "s-1234567890", "redirect_uri": "https://a.example/cb"}),
        }
        time.sleep(1)
        idle = status(server.pid, "VmRSS")
        print(f"idle RSS {idle:.1f} MiB; {PARALLEL} parallel wrong-secret requests per phase\n")
        print(f"{'endpoint':<11} {'phase':<8} {'401':>4} {'429':>4} {'other':>5} {'wall s':>7} {'cpu s':>6} {'RSS MiB':>8} {'peak MiB':>9}")
        pool = cf.ThreadPoolExecutor(max_workers=PARALLEL)
        worst = idle
        for name, (path, form) in endpoints.items():
            for phase, who in (("one id", [ids[0]] * PARALLEL), ("100 ids", ids)):
                cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
                futures = [pool.submit(request, "POST", public + path, None, basic(cid, f"guess-{n}"), form) for n, cid in enumerate(who)]
                codes = [f.result()[0] for f in futures]
                wall, cpu = time.monotonic() - t0, cpu_seconds(server.pid) - cpu0
                rss, peak = status(server.pid, "VmRSS"), status(server.pid, "VmHWM")
                worst = max(worst, peak)
                other = len(codes) - codes.count(401) - codes.count(429)
                print(f"{name:<11} {phase:<8} {codes.count(401):>4} {codes.count(429):>4} {other:>5} {wall:>7.2f} {cpu:>6.2f} {rss:>8.1f} {peak:>9.1f}")
                if other:
                    sys.exit(f"unexpected answers: {sorted(set(codes))}")
                # Let every id's backoff pass, so the next phase starts from scratch.
                time.sleep(1.2)
        print(f"\npeak RSS {worst:.1f} MiB = idle + {worst - idle:.1f} MiB (limit: idle + {LIMIT_MIB} MiB)")
        # Timing of single failures (each for an id with no failures yet, so none is in
        # backoff): it must not tell an unknown id from a known one.
        s, body = request("POST", f"{admin}/admin/oauth/clients", headers=bearer, body={
            "name": "fast", "redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"], "scopes": ["read"]})
        assert s == 201, body
        fast = json.loads(body)["data"]["client_id"]
        kinds = {"unknown id": [f"nobody-{i}" for i in range(5)], "argon2id client": ids[50:55], "SHA-256 client": [fast] * 3}
        print("\none failure at a time (token endpoint), median wall ms:")
        for kind, who in kinds.items():
            times = []
            for cid in who:
                t0 = time.monotonic()
                code = request("POST", f"{public}/oauth2/token", None, basic(cid, "wrong"), {"grant_type": "client_credentials"})[0]
                times.append((time.monotonic() - t0) * 1000)
                assert code == 401, (kind, code)
            times.sort()
            print(f"  {kind:<16} {times[len(times) // 2]:6.1f}")
        if worst - idle > LIMIT_MIB:
            sys.exit("FAIL: memory grew past the limit")
        print("ok")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
