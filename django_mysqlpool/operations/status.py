"""What ``manage.py mysqlpool status`` reports, as plain data (its ``--json`` output).

Per pooled alias: the settings in force (never a password), this process's pool stats,
the server's view (``Threads_connected``, ``max_connections``, ``wait_timeout``,
connections grouped by user and host) or why there is none (a login the server refused, a
server not reached, another error), and a sizing line: processes × (pool_size +
max_overflow) against ``max_connections``. ``problems`` lists what makes the command exit 1.
"""

from __future__ import annotations

import os
from typing import Any

from django.db import connections

from ..integration import lifecycle
from ..integration.aliases import PooledAlias, pooled_aliases, server_cursor
from ..pool import FALLBACKS, POOL_OPTION, describe, original_connect, parse_host

#: Bumped only when a key changes meaning or goes away; new keys may be added.
JSON_VERSION = 1

#: What went wrong asking the server (``server_error_kind``), from the error's code: the
#: server refused the login (wrong password, unknown user, no access to the database, an
#: account that logs in another way), or the client never got a server to answer.
LOGIN_REFUSED, UNREACHABLE, OTHER_ERROR = "login_refused", "unreachable", "error"
LOGIN_REFUSED_CODES = frozenset({1044, 1045, 1698})
UNREACHABLE_CODES = frozenset({2002, 2003, 2005, 2006, 2013, 2055})
#: The words the text report and ``problems`` use for each kind.
ERROR_LABELS = {LOGIN_REFUSED: "login refused", UNREACHABLE: "unreachable", OTHER_ERROR: "error"}
PROBLEMS = {
    LOGIN_REFUSED: "cannot log in to its server",
    UNREACHABLE: "cannot reach its server",
    OTHER_ERROR: "failed to connect to or query its server",
}


def error_kind(error: BaseException) -> str:
    """``LOGIN_REFUSED``, ``UNREACHABLE`` or ``OTHER_ERROR``, from a driver error's code."""
    code = error.args[0] if error.args else None
    if code in LOGIN_REFUSED_CODES:
        return LOGIN_REFUSED
    if code in UNREACHABLE_CODES:
        return UNREACHABLE
    return OTHER_ERROR


def error_hint(kind: str | None, alias: str) -> str | None:
    """What to check for an error of ``kind`` (never a setting's value)."""
    if kind == LOGIN_REFUSED:
        return (
            f"check USER and PASSWORD in DATABASES[{alias!r}], and that this user may use "
            f"its NAME from this host"
        )
    if kind == UNREACHABLE:
        return (
            f"check HOST and PORT in DATABASES[{alias!r}], and that the server is running "
            f"and accepts connections from this host"
        )
    return None


def report(only: list[str] | None, processes: int) -> dict[str, Any]:
    aliases = [alias_report(pooled, processes) for pooled in pooled_aliases(only)]
    return {
        "version": JSON_VERSION,
        "pid": os.getpid(),  # whose pools "pool" shows: this command's, not a web worker's
        "processes": processes,
        "aliases": aliases,
        "problems": problems(aliases),
    }


def problems(aliases: list[dict[str, Any]]) -> list[str]:
    """What a deploy check must stop on: invalid settings, a server the pool cannot reach."""
    found = []
    for alias in aliases:
        if alias["settings_error"]:
            found.append(f"{alias['alias']!r} has invalid pool settings")
        elif alias["server_error"]:
            found.append(f"{alias['alias']!r} {PROBLEMS[alias['server_error_kind']]}")
    return found


def alias_report(pooled: PooledAlias, processes: int) -> dict[str, Any]:
    wrapper = connections[pooled.alias]
    params = dict(wrapper.get_connection_params())
    params.pop(POOL_OPTION, None)
    found: dict[str, Any] = {
        "alias": pooled.alias,
        "target": describe(params),
        "settings": None,
        "settings_error": pooled.error,
        "pool": None,
        "server": None,
        "server_error": None,
        "server_error_kind": None,
        "sizing": None,
    }
    if pooled.config is None:
        return found
    found["settings"] = pooled.config.effective()
    found["recycle_derived"] = pooled.config.recycle is None  # from the server's wait_timeout
    try:
        found["server"] = server_view(pooled.alias)
    except Exception as error:  # an unreachable server is worth reporting, not a traceback
        found["server_error"] = f"{type(error).__name__}: {error}"
        found["server_error_kind"] = error_kind(error)
    found["pool"] = lifecycle.pool_stats(pooled.alias)  # after connecting: this process's
    if found["pool"] is not None:
        found["settings"] = found["pool"]["settings"]  # recycle as derived from the server
    limit = pooled.config.connection_limit()
    found["sizing"] = sizing(limit, processes, found["server"])
    if pooled.config.hosts:
        default_port = int(params.get("port") or 3306)
        found["hosts"] = [
            host_view(params, entry, default_port, limit, processes)
            for entry in pooled.config.hosts
        ]
    return found


def host_view(
    params: dict[str, Any], entry: str, default_port: int, limit: int | None, processes: int
) -> dict[str, Any]:
    """One host of a multi-host target, asked over a plain connection of its own.

    Any host may end up holding every connection (after a failover), so each must fit
    the whole budget on its own.
    """
    from django.db.backends.mysql import base as mysql_base

    host, port = parse_host(entry, default_port)
    name = f"{host}:{port}"
    try:
        raw = original_connect(mysql_base.Database)(  # type: ignore[attr-defined]
            **{"connect_timeout": 3, **params, "host": host, "port": port}
        )
    except Exception as error:
        return {
            "host": name,
            "error": f"{type(error).__name__}: {error}",
            "error_kind": error_kind(error),
            "sizing": None,
        }
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT @@max_connections, @@read_only")
        max_connections, read_only = cursor.fetchone()
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        threads_connected = int(cursor.fetchone()[1])
        cursor.close()
    finally:
        raw.close()
    server = {"max_connections": int(max_connections)}
    return {
        "host": name,
        "error": None,
        "error_kind": None,
        "read_only": bool(int(read_only)),
        "threads_connected": threads_connected,
        "sizing": sizing(limit, processes, server),
    }


def server_view(alias: str) -> dict[str, Any]:
    with server_cursor(alias) as cursor:
        cursor.execute("SELECT VERSION(), @@max_connections, @@wait_timeout")
        version, max_connections, wait_timeout = cursor.fetchone()
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        threads_connected = int(cursor.fetchone()[1])
        cursor.execute(
            "SELECT USER, SUBSTRING_INDEX(HOST, ':', 1) AS client, COUNT(*) "
            "FROM information_schema.PROCESSLIST GROUP BY USER, client "
            "ORDER BY COUNT(*) DESC, USER, client"
        )
        by_client = [
            {"user": user, "host": host, "connections": int(count)}
            for user, host, count in cursor.fetchall()
        ]
    return {
        "version": version,
        "max_connections": int(max_connections),
        "wait_timeout": int(wait_timeout),
        "threads_connected": threads_connected,
        "connections_by_user_and_host": by_client,
    }


def sizing(limit: int | None, processes: int, server: dict[str, Any] | None) -> dict[str, Any]:
    """processes × per-process limit against the server's max_connections."""
    total = None if limit is None else limit * processes
    max_connections = server["max_connections"] if server else None
    fits = None if total is None or max_connections is None else total <= max_connections
    return {
        "per_process": limit,
        "processes": processes,
        "total": total,
        "max_connections": max_connections,
        "fits": fits,
    }


def sizing_line(found: dict[str, Any]) -> str:
    size = found["sizing"]
    if size is None:
        return "sizing: unknown (invalid settings)"
    if size["per_process"] is None:
        return "sizing: no per-process limit (pool_size 0, max_overflow -1 or NullPool)"
    head = (
        f"sizing: {size['processes']} process(es) × {size['per_process']} "
        f"(pool_size + max_overflow) = {size['total']}"
    )
    if size["max_connections"] is None:
        return f"{head}; server's max_connections unknown"
    verdict = (
        f"fits, {size['max_connections'] - size['total']} to spare"
        if size["fits"]
        else "DOES NOT FIT: lower pool_size/max_overflow or raise max_connections"
    )
    return f"{head} of max_connections {size['max_connections']}: {verdict}"


def capability_lines(capabilities: dict[str, bool] | None) -> list[str]:
    """What the client library cannot do, and what the pool does instead."""
    if capabilities is None:
        return []
    missing = [name for name, present in capabilities.items() if not present]
    if not missing:
        return ["client library: status read, session tracking, reset command: all available"]
    return [f"client library lacks {name}: {FALLBACKS[name]}" for name in missing]


def settings_text(found: dict[str, Any]) -> str:
    """The pool class, then each argument as settings.py spells it (``reset='auto'``,
    ``hosts=None``); ``recycle`` says when the server's ``wait_timeout`` decides it."""
    settings = found["settings"]
    shown = []
    for name, value in settings.items():
        if name == "backend":
            continue
        text = f"{name}={value!r}"
        if name == "recycle" and found.get("recycle_derived"):
            when = "" if value is not None else " on the first connection"
            text += f" (derived from wait_timeout{when})"
        shown.append(text)
    return f"{settings['backend']} {' '.join(shown)}"


def as_text(data: dict[str, Any]) -> str:
    if not data["aliases"]:
        return "No pooled database alias (ENGINE django_mysqlpool.backends.mysqlpool)."
    lines = [
        f"Pools of this process (pid {data['pid']}, this command), not of your web workers: "
        f"see theirs in the Prometheus metrics or with django_mysqlpool.pool_stats() in the app."
    ]
    for found in data["aliases"]:
        lines.append(f"{found['alias']}: {found['target']}")
        if found["settings_error"]:
            lines.append(f"  settings: INVALID: {found['settings_error']}")
            continue
        lines.append(f"  settings: {settings_text(found)}")
        pool = found["pool"]
        if pool is not None:
            lines.append(
                f"  this process: {pool['checked_out']} borrowed, {pool['idle']} idle, "
                f"{pool['pending']} waiting, "
                f"{pool['created']} created, {pool['borrowed']} borrows, {pool['waits']} "
                f"waits, {pool['timeouts']} timeouts, {pool['discarded']} discarded"
            )
            lines.extend(f"  {line}" for line in capability_lines(pool["capabilities"]))
            lines.extend(f"  advice: {line}" for line in pool.get("advice") or [])
        if found["server_error"]:
            kind = found["server_error_kind"]
            lines.append(f"  server: {ERROR_LABELS[kind]}: {found['server_error']}")
            hint = error_hint(kind, found["alias"])
            if hint:
                lines.append(f"  fix: {hint}")
        else:
            server = found["server"]
            lines.append(
                f"  server: {server['version']}, {server['threads_connected']} connections of "
                f"max_connections {server['max_connections']}, wait_timeout "
                f"{server['wait_timeout']} s"
            )
            clients = ", ".join(
                f"{c['user']}@{c['host']} ×{c['connections']}"
                for c in server["connections_by_user_and_host"]
            )
            lines.append(f"  connections by user@host: {clients}")
        lines.append(f"  {sizing_line(found)}")
        for host in found.get("hosts") or []:
            if host["error"]:
                label = ERROR_LABELS[host["error_kind"]]
                lines.append(f"  host {host['host']}: {label}: {host['error']}")
            else:
                role = "read-only" if host["read_only"] else "writable"
                lines.append(f"  host {host['host']} ({role}): {sizing_line(host)}")
    return "\n".join(lines)
