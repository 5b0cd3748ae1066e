"""Run by test_pymysql.py in a fresh interpreter: PyMySQL installed as MySQLdb first."""

from __future__ import annotations

import json
import os
import sys

import pymysql

pymysql.install_as_MySQLdb()

import django  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.db import connection, utils  # noqa: E402

import django_mysqlpool  # noqa: E402
from tests.server import Observer, connection_id  # noqa: E402


def main() -> None:
    observer = Observer()
    first = connection_id(connection)
    connection.close()
    reused = connection_id(connection)
    connection.close()

    observer.kill(reused)
    after_kill = connection_id(connection)  # liveness check replaces it, no error
    observer.kill(after_kill)
    try:
        connection_id(connection)
        killed_error = None
    except utils.OperationalError as error:
        killed_error = [type(error).__name__, error.args[0]]
    connection.close()

    held = connection_id(connection)  # held across the fork
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_fd, str(connection_id(connection)).encode())
        connection.close()
        sys.exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    child_id = int(os.read(read_fd, 64))
    parent_after_fork = connection_id(connection)
    connection.close()

    print(
        json.dumps(
            {
                "driver": type(connection.connection).__name__ if connection.connection else None,
                "module": sys.modules["MySQLdb"].__name__,
                "first": first,
                "reused": reused,
                "after_kill": after_kill,
                "killed_error": killed_error,
                "held": held,
                "child": child_id,
                "parent_after_fork": parent_after_fork,
                "parent_alive": observer.is_alive(parent_after_fork),
                "stats": django_mysqlpool.pool_stats("default"),
            }
        )
    )


if __name__ == "__main__":
    main()
