#!/usr/bin/env python3
"""The registry at scale: does a list, a search or a write cost more with more clients?

    scale.py BIN DATABASE_URL OUT_CSV SIZE...

Grows one tenant (`default`) to each SIZE in turn through `clavis client import` (Hydra
JSON Lines, generated here), then starts `clavis serve` on 127.0.0.1 ephemeral ports and
times, over keep-alive connections, each operation below; the baseline of every size is a
single-client read (GET /admin/oauth/clients/{id}) measured in the same run. Appends one
CSV row per (size, operation): size,operation,p50_ms,p99_ms,ratio_to_read.

Standard library only. The server only ever listens on 127.0.0.1; every request has a
timeout and every operation a fixed number of requests, so the run ends by itself.
"""

import csv
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 30
SAMPLES = 200
WRITES = int(os.environ.get("BENCH_WRITES", "100"))
ADMIN_ID, ADMIN_SECRET = "scale-bench-admin", "scale-bench-admin-secret-0123456789abcdef"


def line(i):
    return json.dumps({
        "client_id": f"app-{i:07d}", "client_name": f"Tenant app {i:07d}",
        "redirect_uris": [f"https://app{i}.example.com/cb"], "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid offline", "token_endpoint_auth_method": "none", "owner": f"owner-{i % 100}",
    })


def env(db):
    e = {k: v for k, v in os.environ.items() if not k.startswith("CLAVIS_")}
    e.update(CLAVIS_DATABASE_URL=db, CLAVIS_PUBLIC_ADDR="127.0.0.1:0", CLAVIS_ADMIN_ADDR="127.0.0.1:0",
             CLAVIS_LOG_FORMAT="json", CLAVIS_LOG="warn,clavis=info,clavis::access=warn",
             CLAVIS_BOOTSTRAP_CLIENT_ID=ADMIN_ID, CLAVIS_BOOTSTRAP_CLIENT_SECRET=ADMIN_SECRET)
    return e


def grow(bin_, db, have, size, work):
    path = os.path.join(work, "clients.jsonl")
    with open(path, "w") as f:
        for i in range(have, size):
            f.write(line(i) + "\n")
    start = time.monotonic()
    out = subprocess.run([bin_, "client", "import", "--tenant", "default", path], env=env(db),
                         capture_output=True, text=True, timeout=3600)
    secs = time.monotonic() - start
    if out.returncode != 0:
        sys.exit(f"import failed: {out.stderr[-2000:]}")
    print(f"  imported {size - have} clients in {secs:.1f} s ({(size - have) / secs:.0f}/s): {out.stdout.strip()}", flush=True)
    return secs


def serve(bin_, db):
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([bin_, "serve"], env=env(db), stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        log.seek(0)
        for l in log:
            if '"clavis listening"' in l:
                f = json.loads(l)["fields"]
                return proc, f["public_addr"], f["admin_addr"]
        if proc.poll() is not None:
            log.seek(0)
            sys.exit("server exited: " + log.read()[-2000:])
        time.sleep(0.1)
    proc.kill()
    sys.exit("server did not listen")


class Conn:
    def __init__(self, addr):
        host, port = addr.split(":")
        assert host == "127.0.0.1", addr
        self.c = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT_S)

    def call(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, str) else json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        self.c.request(method, path, body=data, headers=h)
        r = self.c.getresponse()
        return r.status, r.read()


def token(public):
    import base64
    basic = base64.b64encode(f"{ADMIN_ID}:{ADMIN_SECRET}".encode()).decode()
    s, b = Conn(public).call("POST", "/oauth2/token", "grant_type=client_credentials&scope=admin",
                             {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
    assert s == 200, b
    return json.loads(b)["access_token"]


def timed(conn, requests, expect):
    times = []
    for method, path, body in requests:
        t0 = time.perf_counter()
        s, b = conn.call(method, path, body, conn.headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert s in expect, (method, path, s, b[:300])
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def measure(admin, tok, size, rng):
    conn = Conn(admin)
    conn.headers = {"Authorization": f"Bearer {tok}", "X-Tenant-ID": "default"}
    ids = [f"app-{rng.randrange(size):07d}" for _ in range(SAMPLES)]
    last_page = max(1, size // 20)
    ops = {
        "read one client": [("GET", f"/admin/oauth/clients/{i}", None) for i in ids],
        "authms page 1": [("GET", "/admin/oauth/clients?page=1&page_size=20", None)] * SAMPLES,
        "authms last page": [("GET", f"/admin/oauth/clients?page={last_page}&page_size=20", None)] * SAMPLES,
        "authms page 1, status=active": [("GET", "/admin/oauth/clients?page=1&page_size=20&status=active", None)] * SAMPLES,
        "authms name search": [("GET", f"/admin/oauth/clients?page=1&page_size=20&name=app%20{i[4:]}", None) for i in ids],
        "hydra first page": [("GET", "/admin/clients?page_size=20", None)] * SAMPLES,
        "hydra owner filter": [("GET", f"/admin/clients?page_size=20&owner=owner-{rng.randrange(100)}", None) for _ in ids],
    }
    rows = []
    base = None
    for name, reqs in ops.items():
        timed(conn, reqs[:20], {200})  # warm the connection and caches
        p50, p99 = timed(conn, reqs, {200})
        base = base or p50
        rows.append((name, p50, p99))
    # Writes: create, update, delete of fresh clients (each 2xx is durable).
    created, times = [], []
    for k in range(WRITES):
        body = {"name": f"Bench {size} {k}", "redirect_uris": ["https://b.example.com/cb"],
                "grant_types": ["authorization_code"], "is_confidential": False}
        t0 = time.perf_counter()
        s, b = conn.call("POST", "/admin/oauth/clients", body, conn.headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert s == 201, b[:300]
        created.append(json.loads(b)["data"]["client_id"])
    times.sort()
    rows.append(("create", statistics.median(times), times[int(len(times) * 0.99)]))
    update = [("PUT", f"/admin/oauth/clients/{c}", {"name": f"Renamed {c}"}) for c in created]
    rows.append(("update", *timed(conn, update, {200})))
    delete = [("DELETE", f"/admin/oauth/clients/{c}", None) for c in created]
    rows.append(("delete", *timed(conn, delete, {204})))
    return [(size, name, p50, p99, p50 / base) for name, p50, p99 in rows]


def main():
    bin_, db, out_csv, sizes = sys.argv[1], sys.argv[2], sys.argv[3], [int(s) for s in sys.argv[4:]]
    rng = random.Random(14)
    work = tempfile.mkdtemp(prefix="clavis-scale.")
    # The default tenant and the bootstrap admin exist once the server has started once.
    proc, _, _ = serve(bin_, db)
    proc.terminate()
    proc.wait(timeout=60)
    have = 0
    with open(out_csv, "a", newline="") as f:
        w = csv.writer(f)
        for size in sizes:
            print(f"{size} clients:", flush=True)
            secs = grow(bin_, db, have, size, work)
            w.writerow([size, "import (per 1000 clients)", secs * 1000 / (size - have), "", ""])
            have = size
            proc, public, admin = serve(bin_, db)
            try:
                for row in measure(admin, token(public), size, rng):
                    w.writerow([row[0], row[1], f"{row[2]:.3f}", f"{row[3]:.3f}", f"{row[4]:.2f}"])
                    print(f"  {row[1]:<30} p50 {row[2]:8.2f} ms  p99 {row[3]:8.2f} ms  {row[4]:6.2f}x a read", flush=True)
                f.flush()
            finally:
                proc.terminate()
                proc.wait(timeout=60)


if __name__ == "__main__":
    main()
