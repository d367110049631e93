"""Starts the real `clavis serve` binary for the interoperability tests.

Environment:
  CLAVIS_BIN      the server binary (default: target/debug/clavis of this checkout)
  CLAVIS_TEST_DB  `postgres://…` server URL whose user may CREATE DATABASE: each run gets
                  a fresh database there; anything else (or unset): SQLite in a temp dir.

Each test module gets its own server (the `clavis` fixture is module-scoped). Its log is
checked for every secret and token the module handled (`ClavisServer.sensitive`) once the
server has stopped: by the module's own last test (`check_log`), or, if that test did not
run (a selection with -k, a single test id), when the fixture is torn down.
"""

import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "clavis"
STARTUP_TIMEOUT_S = 30
SHUTDOWN_TIMEOUT_S = 15

# The bootstrap admin client (tenant `default`, scope `admin`); its secret is random.
BOOTSTRAP_CLIENT_ID = "interop-admin"

# The login & consent app of the authorization code flow. The tests play it (through the
# admin API) and the browser, so these are never fetched: only Location headers point there.
LOGIN_URL = "https://login.example/login"
CONSENT_URL = "https://login.example/consent"


class ClavisServer:
    """A running `clavis serve` process, its addresses, and everything it has written.

    `sensitive` collects every secret and token the tests hand to or get from the
    server, so that the log can be checked for all of them at the end.
    """

    def __init__(
        self, proc, listening, lines, lock, drained, bootstrap_secret, internal_api_key, secret_encryption_key
    ):
        fields = listening["fields"]
        self.proc = proc
        self.public_url = fields["public_url"].rstrip("/")
        self.admin_url = "http://" + fields["admin_addr"]
        self.backend = fields.get("backend")
        self.bootstrap_client_id = BOOTSTRAP_CLIENT_ID
        self.bootstrap_secret = bootstrap_secret
        self.internal_api_key = internal_api_key
        self.login_url = LOGIN_URL
        self.consent_url = CONSENT_URL
        self.sensitive = {bootstrap_secret, internal_api_key, secret_encryption_key}
        self.log_checked = False
        self._lines = lines
        self._lock = lock
        self._drained = drained

    def log_text(self):
        """Everything the server has written so far (stdout and stderr, in order)."""
        with self._lock:
            return "".join(self._lines)

    def stop(self):
        """SIGTERM, then wait for exit and for the last byte of output. Idempotent.

        Returns the exit status. After this, `log_text()` is the complete log.
        """
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # The reader thread ends at EOF, i.e. once the process (and its pipe) is gone.
        self._drained.wait(timeout=SHUTDOWN_TIMEOUT_S)
        return self.proc.returncode

    @property
    def running(self):
        return self.proc.poll() is None

    def check_log(self):
        """Stops the server and asserts that it exited cleanly and that its complete log
        holds none of `sensitive`. Returns how many values were looked for."""
        self.log_checked = True  # once: a failure here is not repeated at teardown
        assert self.stop() == 0, "the server did not exit cleanly on SIGTERM"
        log = self.log_text()
        assert "clavis listening" in log and "shutting down" in log, "the captured log is incomplete"
        values = {v for v in self.sensitive if v}
        short = sorted(v for v in values if len(v) < 16)
        assert not short, f"too short to look for without false alarms: {short}"
        leaked = sorted(value for value in values if value in log)
        # The offending lines say which code path logged it.
        where = [line.strip()[:300] for line in log.splitlines() if any(v in line for v in leaked)]
        assert not leaked, f"{len(leaked)} secret(s)/token(s) appear in the server log, e.g.:\n" + "\n".join(where[:5])
        return len(values)


def _psql(server_url, sql):
    """Runs one statement with psql (no Python PostgreSQL driver needed)."""
    result = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", server_url, "-c", sql],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql {sql!r} failed ({result.returncode}): {result.stderr.strip()}")


def _start(data_dir, database_url, extra_env):
    binary = Path(os.environ.get("CLAVIS_BIN", DEFAULT_BIN))
    if not binary.is_file():
        pytest.fail(f"server binary {binary} not found: run `cargo build -p clavis --bin clavis` or set CLAVIS_BIN")

    bootstrap_secret = secrets.token_urlsafe(32)  # 43 characters; the server wants >= 32
    internal_api_key = secrets.token_urlsafe(24)
    # Seals client secrets at rest, which client_secret_jwt needs (the server must get
    # the secret back to check an HMAC): 32 random bytes, base64.
    secret_encryption_key = base64.b64encode(secrets.token_bytes(32)).decode()
    # Only our settings: a CLAVIS_* variable from the caller's shell must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAVIS_")}
    # Nor a proxy: the server's own requests (a client's jwks_uri) go to 127.0.0.1.
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
        env.pop(name.upper(), None)
    env.update(
        CLAVIS_PUBLIC_ADDR="127.0.0.1:0",
        CLAVIS_ADMIN_ADDR="127.0.0.1:0",
        CLAVIS_DATA_DIR=str(data_dir),
        CLAVIS_BOOTSTRAP_CLIENT_ID=BOOTSTRAP_CLIENT_ID,
        CLAVIS_BOOTSTRAP_CLIENT_SECRET=bootstrap_secret,
        CLAVIS_INTERNAL_API_KEYS=internal_api_key,
        CLAVIS_SECRET_ENCRYPTION_KEY=secret_encryption_key,
        CLAVIS_LOGIN_URL=LOGIN_URL,
        CLAVIS_CONSENT_URL=CONSENT_URL,
        CLAVIS_LOG_FORMAT="json",
        # The jwks_uri documents of the tests are served from 127.0.0.1, which the server
        # refuses to fetch from unless allowed.
        CLAVIS_OUTBOUND_ALLOW="127.0.0.1",
        # Verbose on purpose: the no-secrets-in-logs check covers debug output too.
        CLAVIS_LOG="debug",
    )
    if database_url:
        env["CLAVIS_DATABASE_URL"] = database_url
    env.update(extra_env)

    proc = subprocess.Popen(
        [str(binary), "serve"],
        cwd=data_dir,  # so that no stray ./clavis.toml is read
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, one reader: the pipe can never fill up
        text=True,
        encoding="utf-8",
        errors="replace",
    )

    lines, lock = [], threading.Lock()
    listening = {}  # the parsed `clavis listening` line, once seen
    ready, drained = threading.Event(), threading.Event()

    def drain():
        # Reads until EOF for the whole life of the process: first to find the
        # `clavis listening` line, then so the tests can inspect the log.
        for line in proc.stdout:
            with lock:
                lines.append(line)
            if not ready.is_set():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("fields", {}).get("message") == "clavis listening":
                    listening.update(record)
                    ready.set()
        ready.set()  # EOF before the line: wake the waiter, which sees `listening` empty
        drained.set()

    threading.Thread(target=drain, name="clavis-output", daemon=True).start()

    if not ready.wait(timeout=STARTUP_TIMEOUT_S):
        proc.kill()
        why = f"did not log `clavis listening` within {STARTUP_TIMEOUT_S}s (killed it)"
    elif not listening:  # the output ended first: the process is exiting
        why = "ended its output without logging `clavis listening`"
    else:
        why = None
    if why:
        try:
            status = proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = proc.wait()
        drained.wait(timeout=5)
        with lock:
            output = "".join(lines)
        pytest.fail(f"{binary} serve {why}; exit status {status}; its output:\n{output}", pytrace=False)
    return ClavisServer(
        proc, listening, lines, lock, drained, bootstrap_secret, internal_api_key, secret_encryption_key
    )


@contextlib.contextmanager
def _database(target):
    """The database URL for one run: None (the server's default, SQLite in its data
    directory) unless `target` is a PostgreSQL server URL; then a new database with a
    random name on that server, dropped afterwards."""
    if not target.startswith("postgres"):
        yield None
        return
    name = "clavis_interop_" + secrets.token_hex(6)
    _psql(target, f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(target)._replace(path="/" + name).geturl()
    finally:
        _psql(target, f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="module")
def clavis(request):
    """One server for the test module: fresh data directory, fresh database, and the
    module's own `CLAVIS_ENV` settings (a dict), if it has any.

    Teardown checks the log for leaks unless a test of the module already did: so the
    check runs exactly once per server, whichever of the module's tests were selected.
    """
    target = os.environ.get("CLAVIS_TEST_DB", "sqlite")
    with tempfile.TemporaryDirectory(prefix="clavis-interop-") as data_dir, _database(target) as database_url:
        server = _start(data_dir, database_url, getattr(request.module, "CLAVIS_ENV", {}))
        try:
            expected = "postgres" if database_url else "sqlite"
            assert server.backend == expected, f"server runs on {server.backend!r}, expected {expected!r}"
            yield server
            if not server.log_checked:
                server.check_log()
        finally:
            server.stop()


@pytest.fixture(autouse=True)
def _clavis_still_running(request):
    """A test that needs the module's server after the leak check has stopped it fails
    up front with the reason, instead of with a refused connection."""
    if "clavis" in request.fixturenames:
        server = request.getfixturevalue("clavis")
        if not server.running:
            pytest.fail(
                "this module's server was already stopped (by its log check, which must be the "
                "module's last test, or by a crash; see the earlier failures)",
                pytrace=False,
            )
