"""A three-node MariaDB Galera cluster on loopback, for tests: ``GaleraCluster``.

Each node is a ``ThrowawayMariaDB`` with its own ports (SQL, group communication, IST,
state transfer); the first bootstraps the cluster, the others join it with an rsync state
transfer. Needs Debian's ``galera-4`` and ``rsync``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from tests.support.mariadb_server import LOOPBACK, ServerFailed, ThrowawayMariaDB, free_port

PROVIDERS = ("/usr/lib/galera/libgalera_smm.so", "/usr/lib/libgalera_smm.so")


def find_provider() -> str | None:
    for provider in PROVIDERS:
        if Path(provider).exists():
            return provider
    return None


def available() -> str | None:
    """Why a cluster cannot start here, or None when it can."""
    if find_provider() is None:
        return "galera-4 is not installed (Debian/Ubuntu: apt-get install galera-4)"
    if shutil.which("rsync") is None:
        return "rsync is not installed (Galera's state transfer uses it)"
    return None


class GaleraCluster:
    def __init__(self, size: int = 3, databases: tuple[str, ...] = ("test",)) -> None:
        self.size = size
        self.databases = databases
        self.nodes: list[ThrowawayMariaDB] = []

    def __enter__(self) -> GaleraCluster:
        provider = find_provider()
        assert provider is not None, available()
        group = [free_port() for _ in range(self.size)]
        address = "gcomm://" + ",".join(f"{LOOPBACK}:{port}" for port in group)
        try:
            for index in range(self.size):
                options = (
                    f"gmcast.listen_addr=tcp://{LOOPBACK}:{group[index]};"
                    f"ist.recv_addr={LOOPBACK}:{free_port()};gcache.size=16M;"
                    # Notice a dead node in ~1.5 s instead of Galera's default 5 s.
                    "evs.keepalive_period=PT0.3S;evs.suspect_timeout=PT1.5S;"
                    "evs.inactive_timeout=PT3S;evs.inactive_check_period=PT0.5S"
                )
                args = [
                    "--wsrep_on=ON",
                    f"--wsrep_provider={provider}",
                    f"--wsrep_cluster_address={address}",
                    "--wsrep_cluster_name=mysqlpool_test",
                    f"--wsrep_node_name=node{index}",
                    f"--wsrep_node_address={LOOPBACK}:{group[index]}",
                    f"--wsrep_provider_options={options}",
                    "--wsrep_sst_method=rsync",
                    f"--wsrep_sst_receive_address={LOOPBACK}:{free_port()}",
                    "--binlog_format=ROW",
                    "--innodb_autoinc_lock_mode=2",
                    "--default_storage_engine=InnoDB",
                ]
                if index == 0:
                    args.append("--wsrep-new-cluster")
                node = ThrowawayMariaDB(
                    server_args=args,
                    databases=self.databases if index == 0 else (),
                    startup_timeout=90,
                    open_datadir=True,
                )
                node.start()
                self.nodes.append(node)
                self.wait_synced(node, cluster_size=index + 1)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        for node in reversed(self.nodes):
            node.stop()

    @staticmethod
    def status(node: ThrowawayMariaDB) -> dict[str, Any]:
        rows = node.sql(
            "SHOW STATUS WHERE Variable_name IN "
            "('wsrep_local_state_comment', 'wsrep_cluster_size', 'wsrep_ready')"
        )
        return dict(rows)

    def wait_synced(self, node: ThrowawayMariaDB, cluster_size: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            found = self.status(node)
            synced = (
                found.get("wsrep_local_state_comment") == "Synced"
                and found.get("wsrep_ready") == "ON"
            )
            if synced and int(found.get("wsrep_cluster_size", 0)) >= cluster_size:
                return
            if time.monotonic() > deadline:
                raise ServerFailed(f"node on port {node.port} not synced: {found}")
            time.sleep(0.1)


def when_ready(
    action: Any, survivors: list[ThrowawayMariaDB] | None = None, timeout: float = 45.0
) -> Any:
    """``action()``, retried while a node says it is not ready (1047: the cluster is
    re-forming after a node left; on a loaded 2-core machine that took over 15 s).

    With ``survivors`` given, a cluster that has not re-formed a primary component after
    ``BOOTSTRAP_AFTER`` seconds (the survivors also lost sight of each other under load,
    and each waits for a quorum) is bootstrapped on the first survivor, as an operator
    would once the dead node is known to be gone; the error on timeout says what each
    survivor reported.
    """
    started = time.monotonic()
    bootstrapped = False
    while True:
        try:
            return action()
        except Exception as error:
            if not (error.args and error.args[0] == 1047):
                raise
            waited = time.monotonic() - started
            if survivors and not bootstrapped and waited > BOOTSTRAP_AFTER:
                bootstrapped = bootstrap_if_no_primary(survivors)
            if waited > timeout:
                states = [GaleraCluster.status(node) for node in survivors or []]
                raise ServerFailed(f"not ready after {waited:.0f} s: {states}") from error
            time.sleep(0.1)


BOOTSTRAP_AFTER = 15.0


def bootstrap_if_no_primary(survivors: list[ThrowawayMariaDB]) -> bool:
    """Make the first survivor primary when none is; True when it was needed."""
    states = [
        dict(node.sql("SHOW STATUS LIKE 'wsrep_cluster_status'")).get("wsrep_cluster_status")
        for node in survivors
    ]
    if "Primary" in states:
        return False
    print(f"galera: no primary component among the survivors ({states}); bootstrapping one")
    survivors[0].sql("SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'")
    return True
