"""A throwaway PostgreSQL cluster on loopback for the benchmark's reference row.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free 127.0.0.1 port, ``pg_ctl
stop`` and delete on exit. The machine's own PostgreSQL (if any) is never touched.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

#: initdb refuses to run as root; these system users may own the cluster instead.
CLUSTER_OWNERS = ("postgres", "nobody")
STARTUP_TIMEOUT_S = 30
PORT_ATTEMPTS = 3
INITDB_SETTINGS = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]
WAIT = ["-w", "-t", str(STARTUP_TIMEOUT_S)]


class Unavailable(Exception):
    """No cluster could be started; the message is the one-line note the bench prints."""


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: the newest Debian one, else PATH's."""

    def version(path: str) -> tuple[int, ...]:
        number = Path(path).parent.parent.name
        return tuple(int(part) for part in number.split(".") if part.isdigit())

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=version, reverse=True)
    for pg_ctl in debian:
        if os.access(Path(pg_ctl).parent / "initdb", os.X_OK):
            return Path(pg_ctl).parent
    pg_ctl_on_path, initdb_on_path = shutil.which("pg_ctl"), shutil.which("initdb")
    if pg_ctl_on_path and initdb_on_path:
        # /usr/local/bin links to the real directory, where postgres itself lives too.
        return Path(pg_ctl_on_path).resolve().parent
    return None


def cluster_owner() -> str | None:
    """Who runs the cluster: ourselves, or (as root) the first system user that exists."""
    if os.geteuid() != 0:
        return None
    for name in CLUSTER_OWNERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise Unavailable("running as root and no 'postgres' or 'nobody' user to run initdb as")


def as_owner(owner: str | None, command: list[str]) -> list[str]:
    if owner is None:
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", owner, "--", *command]
    return ["su", owner, "-s", "/bin/sh", "-c", shlex.join(command)]


def free_port() -> int:
    """A port nothing listens on now (another process may still take it: start retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    binaries: Path
    owner: str | None
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-pg-")))
    port: int = 0

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def run(self, *command: str) -> None:
        result = subprocess.run(
            as_owner(self.owner, [str(self.binaries / command[0]), *command[1:]]),
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT_S + 10,
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [""]
            raise Unavailable(f"{command[0]} failed: {tail[0]} {self.log_tail()}".strip())

    def log_tail(self) -> str:
        try:
            return "| " + " | ".join(self.log.read_text().strip().splitlines()[-2:])
        except OSError:
            return ""

    def init(self) -> None:
        if self.owner is not None:
            # mkdtemp made it 0700 for root: hand it to the user the server runs as.
            entry = pwd.getpwnam(self.owner)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        # Trust on loopback only: the cluster lives for one run and listens on 127.0.0.1.
        self.run("initdb", "-D", str(self.data), *INITDB_SETTINGS)

    def pg_ctl(self, action: str, *options: str) -> None:
        self.run("pg_ctl", "-D", str(self.data), *options, action)

    def start(self) -> None:
        for attempt in range(PORT_ATTEMPTS):
            self.port = free_port()
            # The socket goes to our own directory, not /var/run/postgresql (the system
            # cluster's); fsync is off because nothing here needs to survive a crash.
            server = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory}"
            try:
                self.pg_ctl("start", "-l", str(self.log), "-o", f"{server} -c fsync=off", *WAIT)
                return
            except Unavailable as error:
                # Another process took the free port between our probe and the bind.
                if "already in use" not in str(error) or attempt == PORT_ATTEMPTS - 1:
                    raise

    def stop(self) -> None:
        """Stop the server (immediate: nothing to keep) and delete everything; idempotent.

        The lock file says whether a server may be up: a signal can cut ``pg_ctl start``
        short after the server started.
        """
        if (self.data / "postmaster.pid").exists():
            # If stopping fails the directory still goes: a postmaster whose lock file
            # disappeared shuts itself down within a minute.
            with contextlib.suppress(Unavailable, subprocess.SubprocessError):
                self.pg_ctl("stop", "-m", "immediate", *WAIT)
        shutil.rmtree(self.directory, ignore_errors=True)

    def database(self) -> dict[str, object]:
        """Django's ``DATABASES`` entry for this cluster (TCP, like the MariaDB rows)."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": "127.0.0.1",
            "PORT": self.port,
            "USER": "postgres",
            "PASSWORD": "",
            "NAME": "postgres",
        }

    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"


def start_cluster() -> Cluster:
    """Start a throwaway cluster, stopped at exit whatever happens; raises ``Unavailable``."""
    binaries = find_binaries()
    if binaries is None:
        raise Unavailable("no PostgreSQL binaries (initdb, pg_ctl) in /usr/lib/postgresql or PATH")
    cluster = Cluster(binaries, cluster_owner())
    atexit.register(cluster.stop)
    try:
        cluster.init()
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
