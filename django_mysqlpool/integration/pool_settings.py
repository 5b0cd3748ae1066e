"""Read MYSQLPOOL_BACKEND, MYSQLPOOL_ARGUMENTS and OPTIONS["pool"] from Django's settings.

Settings are read when a pool is created, so ``override_settings`` applies to pools
created inside it. The rules live in ``pool/config.py``; a value they refuse raises
``ImproperlyConfigured`` naming the setting, the value, what is allowed and the fix. Pool
arguments written straight into ``OPTIONS`` (which go to the driver) are found here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from ..pool import config
from ..pool.config import PoolConfig
from ..pool.config_error import ConfigError


def resolve(pool_option: Any) -> PoolConfig | None:
    """The configuration for a connect call's ``OPTIONS["pool"]``; None means "don't pool"."""
    try:
        return config.build(
            pool_option,
            option_name(pool_option),
            getattr(django_settings, "MYSQLPOOL_ARGUMENTS", None),
            getattr(django_settings, "MYSQLPOOL_BACKEND", None),
        )
    except ConfigError as problem:
        raise ImproperlyConfigured(str(problem)) from None


def option_name(pool_option: Any) -> str:
    """``DATABASES['alias']['OPTIONS']['pool']`` for the alias whose settings hold this object.

    Django copies OPTIONS shallowly, so the dict we receive is the very object in settings.
    """
    databases = getattr(django_settings, "DATABASES", {}) or {}
    for alias, database in databases.items():
        options = database.get("OPTIONS") or {}
        if "pool" in options and options["pool"] is pool_option:
            return f"DATABASES[{alias!r}]['OPTIONS']['pool']"
    return "OPTIONS['pool']"


#: Keyword arguments the drivers' ``connect()`` takes (mysqlclient's, which PyMySQL's
#: mostly share). A pool argument of the same name in ``OPTIONS`` would be the driver's.
DRIVER_ARGUMENTS = frozenset(
    """host user password passwd database db port unix_socket conv connect_timeout
    read_timeout write_timeout compress named_pipe init_command read_default_file
    read_default_group cursorclass use_unicode charset collation auth_plugin sql_mode
    client_flag multi_statements ssl ssl_mode server_public_key_path local_infile
    local_infile_dir autocommit binary_prefix""".split()  # noqa: SIM905 (a list of 32 lines)
)
#: What only ``OPTIONS["pool"]`` (or MYSQLPOOL_*) takes: in ``OPTIONS`` itself, the driver's
#: ``connect()`` would fail with a TypeError.
POOL_ARGUMENTS = (
    frozenset(config.RULES) | {"backend"} | frozenset(config.LEGACY_ARGUMENTS)
) - DRIVER_ARGUMENTS


def misplaced_arguments(options: Any) -> dict[str, Any]:
    """The pool arguments in ``options`` (an alias's ``OPTIONS``, or connect kwargs)."""
    if not isinstance(options, Mapping):
        return {}
    return {name: value for name, value in options.items() if name in POOL_ARGUMENTS}


def misplaced_message(alias: str | None, misplaced: Mapping[str, Any]) -> str:
    """What the check and the first connect say about pool arguments outside OPTIONS["pool"]."""
    where = f"DATABASES[{alias!r}]['OPTIONS']" if alias is not None else "OPTIONS"
    names = [repr(name) for name in misplaced]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    one = len(names) == 1
    example = ", ".join(f'"{name}": {value!r}' for name, value in misplaced.items())
    return (
        f"{where} has the pool argument{'' if one else 's'} {listed}, which the driver's "
        f"connect() does not take: move {'it' if one else 'them'} into {where}['pool'], "
        f'as in "OPTIONS": {{"pool": {{{example}}}}}.'
    )
