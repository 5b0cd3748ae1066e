"""A throwaway server started by the tests never disturbs the shared one."""

from __future__ import annotations

import glob

import pytest

from tests.support.mariadb_server import ThrowawayMariaDB, find_server
from tests.support.names import unique

SPILL = unique("spill")

pytestmark = pytest.mark.slow


@pytest.mark.skipif(find_server() is None, reason="mariadbd is not installed")
def test_starting_a_private_server_keeps_the_shared_servers_temporary_tables(observer):
    observer.query(f"CREATE TEMPORARY TABLE {SPILL} (x INT) ENGINE=Aria")
    observer.query(f"INSERT INTO {SPILL} VALUES (1)")
    files_before = set(glob.glob("/tmp/#sql-temptable-*"))

    with ThrowawayMariaDB() as private:
        assert private.port != 3306

    # A mariadbd deletes '#sql*' files in its tmpdir when it starts; ours must not be /tmp.
    assert files_before <= set(glob.glob("/tmp/#sql-temptable-*"))
    observer.query(f"DROP TEMPORARY TABLE {SPILL}")  # errno 6 if its files were deleted
