#!/usr/bin/env python3
"""Find the MySQL/MariaDB server ``make test`` and ``make demo`` use; start one if none answers.

The server is MYSQLPOOL_TEST_HOST:MYSQLPOOL_TEST_PORT (default 127.0.0.1:3306). If nothing
answers there, this starts the machine's own MariaDB service (as root, for the default
address) or else a throwaway MariaDB of our own, kept under ~/.cache/django-mysqlpool, and
records its address in .mysqlpool-db.env, which the Makefile reads. Then it makes sure the
database MYSQLPOOL_TEST_DB (default ``test``) exists. Stdlib only, any python3.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mariadb_server as servers  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ENV_FILE = REPO / ".mysqlpool-db.env"
STARTUP_TIMEOUT = 30.0
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

#: The machine's own MariaDB service, started the way Debian does without systemd.
SYSTEM_SERVER = "/usr/sbin/mariadbd"
SYSTEM_PIDFILE = "/run/mysqld/mysqld.pid"

INSTALL_HINT = (
    "Install MariaDB (Debian/Ubuntu: apt-get install mariadb-server; Fedora: dnf install "
    "mariadb-server; macOS: brew install mariadb) and run this again, or point the tests at a "
    "running server with MYSQLPOOL_TEST_HOST, MYSQLPOOL_TEST_PORT, MYSQLPOOL_TEST_USER, "
    "MYSQLPOOL_TEST_PASSWORD and MYSQLPOOL_TEST_DB."
)


class Target(NamedTuple):
    host: str
    port: int
    user: str
    password: str
    database: str

    def __str__(self) -> str:  # never the password
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


class Unavailable(Exception):
    """No usable server; the message says what to do."""


def target_from_env() -> Target:
    port = os.environ.get("MYSQLPOOL_TEST_PORT", "3306")
    if not port.isdigit():
        raise Unavailable(f"MYSQLPOOL_TEST_PORT must be a port number, got {port!r}")
    return Target(
        host=os.environ.get("MYSQLPOOL_TEST_HOST", "127.0.0.1"),
        port=int(port),
        user=os.environ.get("MYSQLPOOL_TEST_USER", "root"),
        password=os.environ.get("MYSQLPOOL_TEST_PASSWORD", ""),
        database=os.environ.get("MYSQLPOOL_TEST_DB", "test"),
    )


def probe(target: Target) -> servers.Greeting | None:
    """The server's greeting, or None when nothing listens there."""
    try:
        return servers.read_greeting(target.host, target.port, timeout=3.0)
    except servers.ServerRefused as refused:
        raise Unavailable(
            f"{target.host}:{target.port} answers but refuses us: {refused}"
        ) from refused
    except OSError:
        return None


# -- the machine's own service ---------------------------------------------------------------


def can_start_system_service(target: Target) -> bool:
    return (
        target.host in LOCAL_HOSTS
        and target.port == servers.SHARED_PORT
        and os.path.exists(SYSTEM_SERVER)
        and servers.running_as_root()
        and servers.find_program(["start-stop-daemon"], servers.SBIN_DIRS) is not None
    )


def start_system_service(target: Target) -> servers.Greeting:
    print(f"Nothing answers at {target.host}:{target.port}; starting {SYSTEM_SERVER}...")
    run_dir = Path(SYSTEM_PIDFILE).parent
    if not run_dir.exists():  # /run is emptied at boot; the service expects its socket dir
        run_dir.mkdir(mode=0o755)
        with contextlib.suppress(KeyError, OSError):
            import pwd

            mysql = pwd.getpwnam("mysql")
            os.chown(run_dir, mysql.pw_uid, mysql.pw_gid)
    # --pidfile as well as --exec: a throwaway mariadbd (the same binary) must not make
    # start-stop-daemon believe the service is already running.
    daemon = ["start-stop-daemon", "--pidfile", SYSTEM_PIDFILE, "--exec", SYSTEM_SERVER]
    subprocess.run([*daemon, "--start", "--oknodo", "--background"], check=True, timeout=30)
    try:
        return servers.wait_for_greeting(target.host, target.port, STARTUP_TIMEOUT)
    except servers.ServerFailed as error:
        still_running = subprocess.run([*daemon, "--status"], timeout=30).returncode == 0
        if still_running:
            raise Unavailable(
                f"{SYSTEM_SERVER} is running but {error}. See /var/log/mysql/error.log."
            ) from error
        print(f"{SYSTEM_SERVER} exited at once (see /var/log/mysql/error.log).")
        raise


# -- our own persistent throwaway server -----------------------------------------------------


def state_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "django-mysqlpool" / "mariadb"


def run_dir(state: Path) -> Path:
    """Where the socket goes: the state dir, unless its path is too long for a socket."""
    if len(str(state / "mariadbd.sock")) < 100:
        return state
    short = Path(tempfile.gettempdir()) / f"django-mysqlpool-{os.getuid()}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short


@contextlib.contextmanager
def locked(state: Path) -> Iterator[None]:
    """One ensure at a time, so two `make test` runs never boot two servers on one datadir."""
    import fcntl

    state.mkdir(parents=True, exist_ok=True)
    with open(state / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def our_server_pid(state: Path) -> int | None:
    """The pid of our throwaway mariadbd if it is alive (checked against its datadir)."""
    try:
        pid = int((run_dir(state) / "mariadbd.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if f"--datadir={state / 'data'}".encode() in cmdline else None


def throwaway_target(target: Target, port: int) -> Target:
    """Our throwaway server: root with no password, whatever MYSQLPOOL_TEST_USER says."""
    return target._replace(host=servers.LOOPBACK, port=port, user="root", password="")


def start_throwaway(target: Target) -> tuple[Target, servers.Greeting]:
    server = servers.find_server()
    if server is None:
        raise Unavailable(f"Nothing answers at {target.host}:{target.port}. {INSTALL_HINT}")
    state = state_dir()
    datadir = state / "data"
    port_file = state / "port"
    recorded_port = int(port_file.read_text()) if port_file.exists() else 0
    if our_server_pid(state) and recorded_port:
        greeting = servers.wait_for_greeting(servers.LOOPBACK, recorded_port, STARTUP_TIMEOUT)
        return throwaway_target(target, recorded_port), greeting

    print(f"Nothing answers at {target.host}:{target.port}; starting a throwaway MariaDB...")
    if not (state / "installed").exists():
        if datadir.exists():  # an install that did not finish
            import shutil

            shutil.rmtree(datadir)
        datadir.mkdir(parents=True)
        servers.install_datadir(datadir, state / "install.log")
        (state / "installed").touch()
    usable = recorded_port and servers.port_is_free(recorded_port)
    port = recorded_port if usable else servers.free_port()
    command = servers.server_command(server, datadir, run_dir(state), port)
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives this script and the terminal
    )
    try:
        greeting = servers.wait_for_greeting(servers.LOOPBACK, port, STARTUP_TIMEOUT, process)
    except servers.ServerFailed as error:
        servers.stop_process(process, timeout=20)
        raise Unavailable(f"the throwaway MariaDB did not start: {error}. See {state}/") from error
    port_file.write_text(f"{port}\n")
    return throwaway_target(target, port), greeting


def write_env_file(target: Target) -> None:
    state = state_dir()
    text = (
        "# Written by tests/support/ensure_mariadb.py: the throwaway MariaDB it started\n"
        f"# (data in {state}). Delete this file to go back to 127.0.0.1:3306;\n"
        f"# stop that server with: kill $(cat {run_dir(state) / 'mariadbd.pid'})\n"
        f"MYSQLPOOL_TEST_HOST={target.host}\n"
        f"MYSQLPOOL_TEST_PORT={target.port}\n"
        "MYSQLPOOL_TEST_USER=root\n"
        "MYSQLPOOL_TEST_PASSWORD=\n"
    )
    partial = ENV_FILE.with_name(ENV_FILE.name + ".tmp")
    partial.write_text(text)
    partial.replace(ENV_FILE)


def forget_env_file(target: Target) -> None:
    """Drop .mysqlpool-db.env when it points elsewhere: the Makefile would prefer it."""
    if not ENV_FILE.exists():
        return
    recorded = dict(line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
    if (recorded.get("MYSQLPOOL_TEST_HOST"), recorded.get("MYSQLPOOL_TEST_PORT")) != (
        target.host,
        str(target.port),
    ):
        ENV_FILE.unlink()
        print(f"Removed {ENV_FILE.name}, which pointed at another server.")


# -- the test database -------------------------------------------------------------------------


def option_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_client(target: Target, statement: str) -> subprocess.CompletedProcess[str] | None:
    """Run SQL with the mariadb/mysql CLI; the password goes through a 0600 option file."""
    client = servers.find_program(servers.CLIENT_PROGRAMS)
    if client is None:
        return None
    with tempfile.NamedTemporaryFile("w", prefix="mysqlpool-client-", suffix=".cnf") as options:
        options.write(
            "[client]\n"
            f"host={option_value(target.host)}\n"
            f"port={target.port}\n"
            f"user={option_value(target.user)}\n"
            "protocol=TCP\n"
            + (f"password={option_value(target.password)}\n" if target.password else "")
        )
        options.flush()
        return subprocess.run(
            [client, f"--defaults-file={options.name}", "--batch", "--skip-column-names"]
            + ["--execute", statement],
            capture_output=True,
            text=True,
            timeout=30,
        )


def ensure_database(target: Target) -> None:
    name = target.database.replace("`", "``")
    literal = target.database.replace("\\", "\\\\").replace("'", "\\'")
    found = run_client(
        target, f"SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{literal}'"
    )
    if found is None:
        print(
            f"No mariadb/mysql client to check that database {target.database!r} exists; "
            "create it if the tests cannot connect.",
            file=sys.stderr,
        )
        return
    if found.returncode == 0 and found.stdout.strip():
        return
    created = run_client(target, f"CREATE DATABASE IF NOT EXISTS `{name}`")
    if created is not None and created.returncode != 0:
        raise Unavailable(f"cannot create database {target.database!r}: {created.stderr.strip()}")


def main() -> int:
    try:
        target = target_from_env()
        how = ""
        greeting = probe(target)
        if greeting is None and can_start_system_service(target):
            with contextlib.suppress(servers.ServerFailed):
                greeting = start_system_service(target)
                how = " (the system service, started now)"
        if greeting is None:
            if target.host not in LOCAL_HOSTS:
                raise Unavailable(
                    f"Nothing answers at {target.host}:{target.port} "
                    "(MYSQLPOOL_TEST_HOST/MYSQLPOOL_TEST_PORT). Start that server, or unset "
                    "both to use or start a local one."
                )
            with locked(state_dir()):
                target, greeting = start_throwaway(target)
                write_env_file(target)
            how = f" (throwaway server, data in {state_dir()}; recorded in {ENV_FILE.name})"
        else:
            forget_env_file(target)
        ensure_database(target)
    except (Unavailable, servers.ServerFailed, subprocess.SubprocessError) as error:
        print(f"ensure_mariadb: {error}", file=sys.stderr)
        return 1
    print(f"Test database server: {servers.describe(greeting)} at {target}{how}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
