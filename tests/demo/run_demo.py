"""``make demo``: the same Django site under ``gunicorn --preload -w 4``, without and with the pool.

For each backend it sends the same load, counts from the server side how many connections
were opened (``SHOW GLOBAL STATUS``), and checks that the connection the gunicorn master
opened before forking survived its workers. Needs the venv (mysqlclient, gunicorn) and a
server at MYSQLPOOL_TEST_HOST:MYSQLPOOL_TEST_PORT (``make db`` finds or starts one).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import MySQLdb

from tests.support.observer import Observer, server_params

DEMO_DIR = Path(__file__).resolve().parent
REPO = DEMO_DIR.parents[1]
PLAIN = "django.db.backends.mysql"
POOLED = "django_mysqlpool.backends.mysqlpool"

WORKERS = 4
REQUESTS = 2000
CLIENT_THREADS = 8
LOAD_TIME_LIMIT = 120.0  # seconds for the whole load loop, per backend
REQUEST_TIMEOUT = 10.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
SAMPLE_EVERY = 0.02  # seconds between Threads_connected samples


def server_label() -> str:
    params = server_params()
    return f"{params['user']}@{params['host']}:{params['port']}/{params['database']}"


@contextmanager
def peak_threads_connected() -> Iterator[list[int]]:
    """Sample Threads_connected in the background; the list holds [peak] afterwards."""
    peak = [0]
    done = threading.Event()
    watch = Observer()  # connected before the caller reads its baseline

    def sample() -> None:
        try:
            while not done.is_set():
                peak[0] = max(peak[0], watch.status("Threads_connected"))
                done.wait(SAMPLE_EVERY)
        finally:
            watch.close()

    sampler = threading.Thread(target=sample, name="threads-connected", daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join(timeout=10)


# -- gunicorn --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn_program() -> str:
    beside_python = Path(sys.executable).parent / "gunicorn"
    found = str(beside_python) if beside_python.exists() else shutil.which("gunicorn")
    if not found:
        raise SystemExit("gunicorn is not installed in this environment (make install)")
    return found


@dataclass
class Gunicorn:
    """The demo site under ``gunicorn --preload``; ``options`` and ``env`` add to the defaults."""

    engine: str
    workdir: Path
    options: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / "gunicorn.log"

    @property
    def master_id_file(self) -> Path:
        return self.workdir / "master-id"

    @property
    def master_check_file(self) -> Path:
        return self.workdir / "master-check.json"

    def start(self) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "demosite.settings",
            "DEMO_ENGINE": self.engine,
            "DEMO_MASTER_ID_FILE": str(self.master_id_file),
            "DEMO_MASTER_CHECK_FILE": str(self.master_check_file),
            "PYTHONPATH": os.pathsep.join([str(DEMO_DIR), str(REPO)]),
            **self.env,
        }
        command = [
            gunicorn_program(),
            "--config", str(DEMO_DIR / "gunicorn.conf.py"),
            "--preload",
            "--workers", str(WORKERS),
            "--bind", f"127.0.0.1:{self.port}",
            "--graceful-timeout", "10",
            "--log-level", "warning",
            *self.options,
            "demosite.wsgi",
        ]  # fmt: skip
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=DEMO_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so a stuck one can be killed
            )

    def wait_ready(self) -> None:
        """Until one request is answered (bounded), or the master exits."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {self.process.returncode}")
            try:
                fetch(self.url, timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT:.0f} s")

    def stop(self) -> int | None:
        """SIGTERM (graceful: workers finish, then the master's on_exit hook runs)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.terminate()
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)
            return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def master_connection_id(self) -> int | None:
        try:
            return int(self.master_id_file.read_text())
        except (OSError, ValueError):
            return None

    def master_check(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.master_check_file.read_text()))
        except (OSError, ValueError):
            return {"ok": False, "error": "the master's on_exit hook wrote nothing"}

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


# -- load ------------------------------------------------------------------------------------

# Never through an HTTP proxy from the environment: the demo talks to 127.0.0.1 only.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, timeout: float) -> dict[str, Any]:
    with _opener.open(url, timeout=timeout) as response:
        return dict(json.loads(response.read()))


@dataclass
class Load:
    answers: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unsent: int = 0

    @property
    def ids_by_pid(self) -> dict[int, set[int]]:
        seen: dict[int, set[int]] = {}
        for answer in self.answers:
            seen.setdefault(int(answer["pid"]), set()).add(int(answer["connection_id"]))
        return seen


def send_load(url: str, total: int, threads: int, time_limit: float) -> Load:
    """``total`` GETs from ``threads`` client threads; stops early at ``time_limit``."""
    load = Load()
    lock = threading.Lock()
    remaining = [total]
    deadline = time.monotonic() + time_limit

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            try:
                answer = fetch(url, REQUEST_TIMEOUT)
            except Exception as error:
                with lock:
                    load.errors.append(f"{type(error).__name__}: {error}")
            else:
                with lock:
                    load.answers.append(answer)

    started = time.monotonic()
    pool = [threading.Thread(target=client, name=f"client-{n}") for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=time_limit + REQUEST_TIMEOUT + 5)
    load.seconds = time.monotonic() - started
    load.unsent = remaining[0]
    return load


# -- one run per backend ---------------------------------------------------------------------


@dataclass
class Run:
    engine: str
    load: Load = field(default_factory=Load)
    connections_opened: int = 0
    threads_before: int = 0
    threads_peak: int = 0
    master_id: int | None = None
    master_alive_after_load: bool = False
    master_at_exit: dict[str, Any] = field(default_factory=dict)
    failure: str = ""
    log_tail: str = ""

    @property
    def failed_requests(self) -> int:
        return len(self.load.errors) + self.load.unsent

    @property
    def requests_per_second(self) -> float:
        return len(self.load.answers) / self.load.seconds if self.load.seconds else 0.0


def run(engine: str, watch: Observer) -> Run:
    result = Run(engine)
    with tempfile.TemporaryDirectory(prefix="mysqlpool-demo-") as workdir:
        server = Gunicorn(engine, Path(workdir))
        try:
            with peak_threads_connected() as peak:
                result.threads_before = watch.status("Threads_connected")
                before = watch.status("Connections")  # so the master's own counts too
                server.start()
                server.wait_ready()
                result.master_id = server.master_connection_id()
                result.load = send_load(server.url, REQUESTS, CLIENT_THREADS, LOAD_TIME_LIMIT)
                result.connections_opened = watch.status("Connections") - before
            result.threads_peak = peak[0]
            result.master_alive_after_load = result.master_id in watch.connection_ids()
        except RuntimeError as error:
            result.failure = str(error)
        finally:
            server.stop()
            result.master_at_exit = server.master_check()
            result.log_tail = server.log_tail()
    return result


# -- report ----------------------------------------------------------------------------------


def describe_ids(ids_by_pid: dict[int, set[int]]) -> str:
    return " / ".join(str(len(ids)) for _, ids in sorted(ids_by_pid.items())) or "-"


def describe_master(result: Run) -> str:
    if result.master_id is None:
        return "unknown"
    after_load = "alive" if result.master_alive_after_load else "GONE"
    at_exit = "answers" if result.master_at_exit.get("ok") else "DEAD"
    return f"{after_load} after load, {at_exit} at exit"


def print_table(runs: list[Run]) -> None:
    rows = [
        ("requests answered", [f"{len(r.load.answers)}/{REQUESTS}" for r in runs]),
        ("failed requests", [str(r.failed_requests) for r in runs]),
        ("requests/s", [f"{r.requests_per_second:.0f}" for r in runs]),
        ("server connections opened", [str(r.connections_opened) for r in runs]),
        (
            "peak Threads_connected",
            [f"{r.threads_peak} (was {r.threads_before})" for r in runs],
        ),
        ("distinct connection ids per worker", [describe_ids(r.load.ids_by_pid) for r in runs]),
        ("master's pre-fork connection", [describe_master(r) for r in runs]),
    ]
    headers = ["Django's MySQL backend" if r.engine == PLAIN else "django-mysqlpool" for r in runs]
    width = max(len(label) for label, _ in rows) + 2
    columns = [max(len(h), *(len(v[i]) for _, v in rows)) + 2 for i, h in enumerate(headers)]
    for label, values in [("", headers), *rows]:
        cells = (value.ljust(column) for value, column in zip(values, columns, strict=True))
        print(label.ljust(width) + "".join(cells).rstrip())


EXPLANATION = (
    "What this shows: gunicorn runs {workers} worker processes; each handles one request at a"
    " time, and Django closes its database connection at the end of every request "
    "(CONN_MAX_AGE=0). With Django's own MySQL backend that close really closes, so every "
    "request pays for a new server connection: one per request (plus the master's and one for"
    " the readiness check). With django-mysqlpool the same close gives the connection back to"
    " a pool inside the worker, so each worker opens one connection and reuses it for all its"
    " requests: one per worker, plus the master's. The last row is the --preload case: the "
    "master opened a connection before forking and the workers inherited its socket. Django's"
    " backend closes that inherited copy in the first request of each worker, which sends "
    "COM_QUIT on the shared socket and kills the master's connection; django-mysqlpool points"
    " inherited sockets at /dev/null in each worker, so the master's connection outlives its "
    "workers. 'Server connections opened' is the server's global Connections counter: other "
    "clients of {server} during the run count too."
)


def master_story(result: Run) -> str:
    if result.master_id is None:
        return "the master's connection id was not recorded (DEMO_MASTER_ID_FILE)."
    in_list = "still in" if result.master_alive_after_load else "no longer in"
    story = (
        f"the master's pre-fork connection (id {result.master_id}) is {in_list} SHOW "
        f"PROCESSLIST after {len(result.load.answers)} requests"
    )
    if result.master_at_exit.get("ok"):
        return story + ", and it answered a query after all workers had exited."
    error = result.master_at_exit.get("error")
    expected = " (expected with Django's own backend)" if result.engine == PLAIN else ""
    return story + f"; its next query after the workers exited failed{expected}: {error}"


def main() -> int:
    try:
        watch = Observer()
    except MySQLdb.OperationalError as error:
        print(
            f"Cannot reach the database server {server_label()}: {error}\n"
            "Run `make db` (tests/support/ensure_mariadb.py) to find or start one.",
            file=sys.stderr,
        )
        return 1
    print(f"Server: {watch.version()} at {server_label()}")
    print(
        f"Load: {REQUESTS} requests from {CLIENT_THREADS} client threads against "
        f"gunicorn --preload -w {WORKERS}, once per backend.\n"
    )
    runs = []
    for engine in (PLAIN, POOLED):
        print(f"Running with ENGINE={engine!r}...", flush=True)
        runs.append(run(engine, watch))
    watch.close()
    print()
    print_table(runs)
    print()
    print(textwrap.fill(EXPLANATION.format(workers=WORKERS, server=server_label()), width=92))
    return report_problems(runs)


def report_problems(runs: list[Run]) -> int:
    status = 0
    for result in runs:
        name = result.engine
        if result.failure:
            print(f"\n{name}: {result.failure}. gunicorn's log:\n{result.log_tail}")
            status = 1
        if result.failed_requests:
            print(f"\n{name}: {result.failed_requests} requests failed, for example:")
            for error in sorted(set(result.load.errors))[:5]:
                print(f"  {error}")
            print(f"gunicorn's log:\n{result.log_tail}")
            status = 1
        print("\n" + textwrap.fill(f"{name}: {master_story(result)}", width=92))
        if name == POOLED and not result.master_at_exit.get("ok"):
            status = 1  # django-mysqlpool promises that a parent's connections survive
    print("\nOK" if status == 0 else "\nFAILED")
    return status


if __name__ == "__main__":
    sys.exit(main())
