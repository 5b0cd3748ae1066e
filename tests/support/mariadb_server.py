"""Private MariaDB servers on free loopback ports: ``ThrowawayMariaDB`` and its building blocks.

Stdlib only and Python 3.7-compatible, because ``ensure_mariadb.py`` imports it with whatever
``python3`` the machine has, before any virtualenv exists.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

LOOPBACK = "127.0.0.1"
#: The port of the shared, system-wide server: a throwaway server never uses it.
SHARED_PORT = 3306

#: Enough for tests, small enough that several servers fit next to the shared one.
SMALL_SERVER_ARGS = (
    "--skip-log-bin",
    "--performance-schema=OFF",
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=8M",
    "--innodb-log-buffer-size=1M",
    "--key-buffer-size=1M",
    "--aria-pagecache-buffer-size=1M",
    "--max-connections=200",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
)
#: Options install-db hands on to the bootstrap server: the redo log size is fixed there.
INSTALL_ARGS = ("--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M")

SERVER_PROGRAMS = ("mariadbd", "mysqld")
INSTALL_PROGRAMS = ("mariadb-install-db", "mysql_install_db")
CLIENT_PROGRAMS = ("mariadb", "mysql")
#: Where distributions put the server, which is often not on a normal user's PATH.
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/opt/homebrew/sbin")


class Greeting(NamedTuple):
    """What a MySQL/MariaDB server says first on a new TCP connection."""

    version: str
    connection_id: int


class ServerRefused(OSError):
    """The server answered, but with an error packet instead of a greeting."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"the server refused the connection: ({code}) {message}")
        self.code = code
        self.message = message


class ServerFailed(RuntimeError):
    """A throwaway server did not start, or did not answer in time."""


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = b""
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("the server closed the connection before its greeting")
        chunks += chunk
    return chunks


def read_greeting(host: str, port: int, timeout: float = 2.0) -> Greeting:
    """Connect over TCP and read the server's handshake packet (no login, no query).

    Raises ``OSError`` when nothing answers, ``ServerRefused`` for an error packet
    (too many connections, host not allowed, ...).
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        header = _recv_exactly(sock, 4)
        length = header[0] | header[1] << 8 | header[2] << 16
        payload = _recv_exactly(sock, length)
    if payload[:1] == b"\xff":
        code = struct.unpack("<H", payload[1:3])[0]
        raise ServerRefused(code, payload[3:].decode("utf-8", "replace"))
    if payload[:1] != b"\x0a":
        raise ConnectionError(f"not a MySQL/MariaDB greeting: {payload[:16]!r}")
    end = payload.index(b"\x00", 1)
    version = payload[1:end].decode("ascii", "replace")
    if version.startswith("5.5.5-"):  # MariaDB's prefix for old clients
        version = version[len("5.5.5-") :]
    connection_id = struct.unpack("<I", payload[end + 1 : end + 5])[0]
    return Greeting(version, connection_id)


def describe(greeting: Greeting) -> str:
    """``MariaDB 10.11.19`` / ``MySQL 8.0.36`` from a greeting's version string."""
    number = greeting.version.split("-", 1)[0]
    product = "MariaDB" if "mariadb" in greeting.version.lower() else "MySQL"
    return f"{product} {number}"


def wait_for_greeting(
    host: str,
    port: int,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
) -> Greeting:
    """Poll until the server greets, ``process`` (if given) exits, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    last_error: Exception = TimeoutError("no attempt made")
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerFailed(f"the server exited with status {process.returncode}")
        try:
            return read_greeting(host, port, timeout=1.0)
        except ServerRefused:
            raise
        except OSError as error:
            last_error = error
        time.sleep(0.1)
    raise ServerFailed(f"no greeting from {host}:{port} after {timeout:.0f} s: {last_error}")


def free_port() -> int:
    """A loopback port nothing listens on now (the kernel's pick, never 3306)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        if port != SHARED_PORT:
            return port


def port_is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (as mariadbd does, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def find_program(names: Sequence[str], extra_dirs: Sequence[str] = ()) -> str | None:
    """The first of ``names`` found on PATH or in ``extra_dirs``."""
    search_path = os.pathsep.join([os.environ.get("PATH", os.defpath), *extra_dirs])
    for name in names:
        found = shutil.which(name, path=search_path)
        if found:
            return found
    return None


def find_server() -> str | None:
    return find_program(SERVER_PROGRAMS, SBIN_DIRS)


def running_as_root() -> bool:
    return getattr(os, "geteuid", lambda: -1)() == 0


def install_datadir(datadir: Path, log_path: Path) -> None:
    """Create the system tables in an empty ``datadir``; root logs in with no password."""
    installer = find_program(INSTALL_PROGRAMS, ("/usr/bin", "/usr/local/bin", *SBIN_DIRS))
    if installer is None:
        raise ServerFailed(
            "neither mariadb-install-db nor mysql_install_db is installed "
            "(Debian/Ubuntu: apt-get install mariadb-server)"
        )
    command = [installer, "--no-defaults", f"--datadir={datadir}", "--skip-test-db"]
    with open(log_path, "ab") as log:
        help_text = subprocess.run(
            [installer, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30
        ).stdout
        # MariaDB >= 10.4 makes root socket-only unless asked; older ones have no such flag.
        if b"--auth-root-authentication-method" in help_text:
            command.append("--auth-root-authentication-method=normal")
        if running_as_root():
            command.append("--user=root")
        command.extend(INSTALL_ARGS)
        # The bootstrap server, like any mariadbd, deletes '#sql*' files in its tmpdir at
        # start: with the default /tmp that would be the shared server's live temp tables.
        command.append(f"--tmpdir={datadir.parent}")
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=120)
    if result.returncode != 0:
        raise ServerFailed(f"{Path(installer).name} failed (exit {result.returncode}): {log_path}")


def server_command(
    server: str, datadir: Path, rundir: Path, port: int, extra_args: Sequence[str] = ()
) -> list[str]:
    """A mariadbd command line that reads no option file and listens on loopback only."""
    if port == SHARED_PORT:
        raise ValueError(f"a private server must not use port {SHARED_PORT} (the shared one)")
    command = [
        server,
        "--no-defaults",  # never the system's my.cnf (datadir, socket, port 3306)
        f"--datadir={datadir}",
        f"--socket={rundir / 'mariadbd.sock'}",
        f"--pid-file={rundir / 'mariadbd.pid'}",
        f"--log-error={rundir / 'mariadbd.err'}",
        f"--tmpdir={rundir}",
        f"--port={port}",
        f"--bind-address={LOOPBACK}",
        *SMALL_SERVER_ARGS,
    ]
    if running_as_root():
        command.append("--user=root")
    command.extend(extra_args)
    return command


def client_command(port: int, user: str = "root", host: str = LOOPBACK) -> list[str]:
    """A ``mariadb`` CLI command line for a passwordless user over TCP (no option files)."""
    client = find_program(CLIENT_PROGRAMS)
    if client is None:
        raise ServerFailed(
            "no mariadb/mysql client (Debian/Ubuntu: apt-get install mariadb-client)"
        )
    return [
        client,
        "--no-defaults",
        "--protocol=TCP",
        f"--host={host}",
        f"--port={port}",
        f"--user={user}",
        "--batch",
        "--skip-column-names",
    ]


def open_to_all(directory: Path) -> None:
    """chmod a+rwX, recursively (a throwaway server's datadir only)."""
    directory.chmod(0o777)
    for path in directory.rglob("*"):
        path.chmod(0o777 if path.is_dir() else 0o666)


def make_certificates(directory: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1, made with the openssl CLI.

    Returns the paths as ``ca``, ``cert`` and ``key``: the server's ``--ssl-*`` options,
    and ``ca`` for clients that verify it.
    """
    openssl = find_program(("openssl",))
    if openssl is None:
        raise ServerFailed("openssl is not installed (Debian/Ubuntu: apt-get install openssl)")
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / f"{name}.pem" for name in ("ca", "ca-key", "cert", "key")}
    request = directory / "server.csr"
    extensions = directory / "san.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=django-mysqlpool test CA",
         "-keyout", str(paths["ca-key"]), "-out", str(paths["ca"])],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", str(paths["key"]), "-out", str(request)],
        ["x509", "-req", "-in", str(request), "-CA", str(paths["ca"]),
         "-CAkey", str(paths["ca-key"]), "-CAcreateserial", "-days", "2",
         "-extfile", str(extensions), "-out", str(paths["cert"])],
    ]  # fmt: skip
    for step in steps:
        result = subprocess.run([openssl, *step], capture_output=True, timeout=60)
        if result.returncode != 0:
            raise ServerFailed(f"openssl {step[0]} failed: {result.stderr.decode()[-500:]}")
    return {"ca": paths["ca"], "cert": paths["cert"], "key": paths["key"]}


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM (mariadbd's clean shutdown), then SIGKILL if it takes longer than ``timeout``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGCONT)  # a frozen server cannot shut down
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


#: Servers started and not yet stopped, stopped at interpreter exit so none is left behind.
_STARTED: set[ThrowawayMariaDB] = set()


@atexit.register
def _stop_forgotten_servers() -> None:
    for server in list(_STARTED):
        server.stop()


class ThrowawayMariaDB:
    """A private ``mariadbd`` in a temporary directory on a free loopback port.

    ``start()`` creates the datadir and boots the server; ``stop()`` shuts it down and
    removes the directory. For fault tests, ``halt()`` / ``boot()`` / ``restart()`` take the
    server down and up on the same port with the same data, and ``freeze()`` / ``thaw()``
    make it unresponsive (SIGSTOP) without closing any socket. Root logs in over TCP with
    an empty password::

        with ThrowawayMariaDB(server_args=["--wait-timeout=5"]) as server:
            MySQLdb.connect(**server.connect_kwargs(), database="test")
            server.restart()
    """

    host = LOOPBACK
    user = "root"
    password = ""

    def __init__(
        self,
        server_args: Sequence[str] = (),
        databases: Sequence[str] = ("test",),
        startup_timeout: float = 30.0,
        shutdown_timeout: float = 20.0,
        tls: bool = False,
        datadir_from: Path | None = None,
        open_datadir: bool = False,
    ) -> None:
        self.server_args = tuple(server_args)
        #: Start from a copy of this (stopped) server's data instead of a fresh install:
        #: Galera nodes that share a state need no state transfer.
        self.datadir_from = datadir_from
        #: Let any user write the datadir: Galera's rsync state transfer runs its daemon as
        #: "nobody" when the server runs as root, and must create the joiner's files.
        self.open_datadir = open_datadir
        self.tls = tls
        self.certificates: dict[str, Path] = {}
        self.databases = tuple(databases)
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.port = 0
        self.directory: Path | None = None
        self.version = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._frozen = False

    # -- whole life ---------------------------------------------------------------------

    def start(self) -> ThrowawayMariaDB:
        if self.directory is not None:
            raise RuntimeError(f"{self!r} is already started")
        server = find_server()
        if server is None:
            raise ServerFailed(
                "mariadbd is not installed (Debian/Ubuntu: apt-get install mariadb-server)"
            )
        self.directory = Path(tempfile.mkdtemp(prefix="mysqlpool-mariadb-"))
        _STARTED.add(self)
        try:
            if self.datadir_from is not None:
                shutil.copytree(self.datadir_from, self.directory / "data", symlinks=True)
            else:
                (self.directory / "data").mkdir()
                install_datadir(self.directory / "data", self.directory / "install.log")
            if self.open_datadir:
                open_to_all(self.directory / "data")
            if self.tls:
                self.certificates = make_certificates(self.directory / "tls")
                self.server_args += tuple(
                    f"--ssl-{name}={path}" for name, path in self.certificates.items()
                )
            self.port = free_port()
            self.boot()
            for name in self.databases:
                self.sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Shut the server down (bounded) and remove its directory; safe to call twice."""
        self.halt()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        _STARTED.discard(self)

    def __enter__(self) -> ThrowawayMariaDB:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "down"
        return f"<ThrowawayMariaDB {self.host}:{self.port} {state}>"

    # -- faults -------------------------------------------------------------------------

    def boot(self) -> Greeting:
        """Start the server process on the existing datadir and wait for its greeting."""
        if self.directory is None:
            raise RuntimeError("call start() first")
        if self.is_running:
            raise RuntimeError(f"{self!r} is already running")
        server = find_server()
        assert server is not None
        command = server_command(
            server, self.directory / "data", self.directory, self.port, self.server_args
        )
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C meant for pytest must not kill it mid-test
        )
        try:
            greeting = wait_for_greeting(
                self.host, self.port, self.startup_timeout, process=self._process
            )
        except ServerFailed as error:
            raise ServerFailed(f"{error}; last lines of the log:\n{self.log_tail()}") from error
        self.version = greeting.version
        return greeting

    def halt(self, kill: bool = False) -> None:
        """Take the server down, keeping its data: SIGTERM (clean) or SIGKILL (a crash)."""
        process, self._process = self._process, None
        self._frozen = False
        if process is None:
            return
        if kill:
            process.kill()
            process.wait(timeout=self.shutdown_timeout)
        else:
            stop_process(process, self.shutdown_timeout)

    def restart(self, kill: bool = False) -> Greeting:
        """Down and up again on the same port; every client connection is cut."""
        self.halt(kill=kill)
        return self.boot()

    def freeze(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (an unresponsive server)."""
        if self._process is None:
            raise RuntimeError(f"{self!r} is not running")
        self._process.send_signal(signal.SIGSTOP)
        self._frozen = True
        self._wait_until_stopped(self._process.pid)

    @staticmethod
    def _wait_until_stopped(pid: int, within: float = 5.0) -> None:
        """Return once every thread of ``pid`` is stopped: SIGSTOP stops them one by one,
        and a thread still running could answer a query sent right after ``freeze()``."""
        tasks = Path(f"/proc/{pid}/task")
        if not tasks.is_dir():
            return  # no /proc (not Linux): the signal alone, as before
        deadline = time.monotonic() + within
        while True:
            states = []
            for stat in tasks.glob("*/stat"):
                try:
                    # "pid (comm) state ...": the state follows the last ")".
                    states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
                except (OSError, IndexError):
                    continue  # the thread ended meanwhile
            if states and all(state in ("T", "t") for state in states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{pid} not stopped {within} s after SIGSTOP: {states}")
            time.sleep(0.001)

    def thaw(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)
        self._frozen = False

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # -- for clients --------------------------------------------------------------------

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``MySQLdb.connect`` / ``pymysql.connect``."""
        return {"host": self.host, "port": self.port, "user": self.user, "password": ""}

    def env(self, database: str = "test") -> dict[str, str]:
        """The MYSQLPOOL_TEST_* variables that point tests/settings.py at this server."""
        return {
            "MYSQLPOOL_TEST_HOST": self.host,
            "MYSQLPOOL_TEST_PORT": str(self.port),
            "MYSQLPOOL_TEST_USER": self.user,
            "MYSQLPOOL_TEST_PASSWORD": self.password,
            "MYSQLPOOL_TEST_DB": database,
        }

    def sql(self, statement: str, database: str | None = None) -> list[tuple[str, ...]]:
        """Run SQL with the ``mariadb`` CLI over TCP; rows as tuples of strings."""
        command = client_command(self.port)
        if database:
            command.append(f"--database={database}")
        result = subprocess.run(
            [*command, "--execute", statement],
            capture_output=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise ServerFailed(f"{statement!r} failed: {result.stderr.decode().strip()}")
        lines = result.stdout.decode().splitlines()
        return [tuple(line.split("\t")) for line in lines]

    def create_user(
        self, name: str, password: str, databases: Sequence[str] = ("test",), tls: bool = False
    ) -> None:
        """A user with a password and every privilege on ``databases``; ``tls``: REQUIRE SSL."""
        quoted = password.replace("\\", "\\\\").replace("'", "\\'")
        require = " REQUIRE SSL" if tls else ""
        self.sql(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{quoted}'{require}")
        for database in databases:
            self.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            self.sql(f"GRANT ALL ON `{database}`.* TO '{name}'@'%'")

    def log_tail(self, lines: int = 15) -> str:
        if self.directory is None:
            return ""
        log = self.directory / "mariadbd.err"
        if not log.exists():
            return "(no log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
