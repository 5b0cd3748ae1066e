"""Pool configuration: the rules every pool argument follows, and a target's validated set.

Where the values come from (Django's settings) is the integration layer's business
(``integration/pool_settings.py``); every problem here raises ``ConfigError`` naming the
setting, the value, what is allowed and how to fix it, which that layer turns into
Django's ``ImproperlyConfigured``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import pool as sa_pool

from . import hosts
from .backend_class import DEFAULT_BACKEND, load_backend
from .config_error import ConfigError

#: Arguments only the default ``ElasticPool`` honours.
ELASTIC_ARGUMENTS = ("min_idle", "max_idle", "max_waiting")

#: Arguments 0.2.1 users may still have, and what becomes of them (warned).
LEGACY_ARGUMENTS = {
    "use_threadlocal": "is ignored: SQLAlchemy 1.4 removed thread-local pools",
    "listeners": "is ignored: SQLAlchemy 1.4 removed pool listeners; use sqlalchemy.event",
    "poolclass": "is deprecated: set MYSQLPOOL_BACKEND instead (until then, and only in "
    "MYSQLPOOL_ARGUMENTS, it still picks the pool class)",
}
#: Arguments the pool relies on being its own.
MANAGED_ARGUMENTS = ("creator", "dialect", "events", "_dispatch")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Rule:
    check: Callable[[Any], bool]
    allowed: str


RULES: dict[str, Rule] = {
    "pool_size": Rule(lambda v: _is_int(v) and v >= 0, "an int >= 0 (0 means no limit)"),
    "max_overflow": Rule(lambda v: _is_int(v) and v >= -1, "an int >= -1 (-1 means no limit)"),
    "timeout": Rule(lambda v: _is_number(v) and v > 0, "a number of seconds > 0"),
    "recycle": Rule(
        lambda v: _is_number(v) and v >= -1,
        "a number of seconds, or -1 to never recycle (default: from the server's wait_timeout)",
    ),
    "use_lifo": Rule(lambda v: isinstance(v, bool), "True or False"),
    "min_idle": Rule(
        lambda v: v is None or (_is_int(v) and v >= 0),
        "an int from 0 to pool_size: connections kept open when the pool is idle "
        "(default: pool_size)",
    ),
    "max_idle": Rule(
        lambda v: v is None or (_is_number(v) and v > 0),
        "a number of seconds > 0 an idle connection beyond min_idle stays open unused "
        "(default 600), or None for never",
    ),
    "max_waiting": Rule(
        lambda v: _is_int(v) and v >= 0,
        "an int >= 0: borrowers that may queue for a connection before the next is "
        "refused at once (default 0: no bound)",
    ),
    "pre_ping": Rule(lambda v: isinstance(v, bool), "True or False"),
    "pre_ping_after": Rule(
        lambda v: _is_number(v) and v >= 0,
        "a number of seconds >= 0: ping only connections idle at least that long "
        "(default 1; 0 pings on every borrow)",
    ),
    "echo": Rule(lambda v: isinstance(v, bool) or v == "debug", "True, False or 'debug'"),
    "logging_name": Rule(lambda v: isinstance(v, str) and v != "", "a non-empty str"),
    "hosts": Rule(
        lambda v: (
            isinstance(v, (list, tuple))
            and len(v) > 0
            and all(hosts.is_valid_entry(entry) for entry in v)
        ),
        "a non-empty list of 'host' or 'host:port' strings, tried in order for new "
        "connections (HOST and PORT are then the defaults only)",
    ),
    "host_backoff": Rule(
        lambda v: _is_number(v) and v >= 0,
        "a number of seconds >= 0 a failed host is skipped for (default 5)",
    ),
    "require": Rule(
        lambda v: v is None or v in ("primary", "replica"),
        "'primary' (only a server with @@read_only = 0), 'replica' (@@read_only = 1) or None",
    ),
    "wait_warning_after": Rule(
        lambda v: v is None or (_is_number(v) and v >= 0),
        "a number of seconds >= 0: log a WARNING when a borrower waited longer than that "
        "for a connection (default 1), or None for never",
    ),
    "leak_timeout": Rule(
        lambda v: v is None or (_is_number(v) and v > 0),
        "a number of seconds > 0 after which a connection still borrowed is logged as a "
        "leak with the borrower's stack, or None (default: off)",
    ),
    "reset": Rule(
        lambda v: v in ("auto", "transaction", "session"),
        "'auto' (default: every borrower finds a clean session; only what the last one "
        "changed is reset), 'transaction' (roll back, keep session state: variables, locks, "
        "temporary tables and table locks pass to the next borrower) or 'session' "
        "(COM_RESET_CONNECTION on every give-back)",
    ),
    "reset_on_return": Rule(
        lambda v: v is True or v == "rollback",
        "'rollback' (the pool always rolls back an open transaction on return)",
    ),
}
#: Arguments we implement ourselves instead of handing them to SQLAlchemy.
OWN_ARGUMENTS = (
    "hosts",
    "host_backoff",
    "require",
    "wait_warning_after",
    "leak_timeout",
    "pre_ping",
    "pre_ping_after",
    "recycle",
    "reset",
    "reset_on_return",
)
DEFAULT_PRE_PING_AFTER = 1.0
#: What each argument is when not set (SQLAlchemy's defaults for its own).
DEFAULTS: dict[str, Any] = {
    "pool_size": 5,
    "max_overflow": 10,
    "timeout": 30.0,
    "recycle": None,
    "use_lifo": False,
    "min_idle": None,  # pool_size
    "max_idle": 600.0,
    "max_waiting": 0,
    "pre_ping": False,
    "pre_ping_after": DEFAULT_PRE_PING_AFTER,
    "reset": "auto",
    "reset_on_return": "rollback",
    "leak_timeout": None,
    "wait_warning_after": 1.0,
    "hosts": None,
    "host_backoff": 5.0,
    "require": None,
    "echo": False,
    "logging_name": None,
}


@dataclass(frozen=True)
class PoolConfig:
    """A validated pool configuration for one target."""

    backend: type[sa_pool.Pool]
    arguments: dict[str, Any] = field(default_factory=dict)
    pre_ping: bool = False
    pre_ping_after: float = DEFAULT_PRE_PING_AFTER
    recycle: float | None = None  # None: derive from the server's wait_timeout
    reset: str = "auto"
    leak_timeout: float | None = None
    wait_warning_after: float = float("inf")  # None in settings: never
    hosts: tuple[str, ...] | None = None
    host_backoff: float = 5.0
    require: str | None = None
    #: Where users change these values, for messages ("MYSQLPOOL_ARGUMENTS" or an alias's
    #: ``DATABASES[...]['OPTIONS']['pool']``).
    setting: str = "MYSQLPOOL_ARGUMENTS"

    def sqlalchemy_arguments(self) -> dict[str, Any]:
        return {k: v for k, v in self.arguments.items() if k not in OWN_ARGUMENTS}

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend.__name__, **self.arguments}

    def effective(self) -> dict[str, Any]:
        """Every argument the backend takes, with its value in force."""
        accepted = sorted(accepted_arguments(self.backend))
        values = {name: self.arguments.get(name, DEFAULTS.get(name)) for name in accepted}
        if "min_idle" in values and values["min_idle"] is None:
            values["min_idle"] = values.get("pool_size")
        return {"backend": self.backend.__name__, **values}

    def connection_limit(self) -> int | None:
        """pool_size + max_overflow for a QueuePool-like backend; None when unlimited."""
        effective = self.effective()
        if "pool_size" not in effective or "max_overflow" not in effective:
            return None
        size, overflow = effective["pool_size"], effective["max_overflow"]
        return None if size == 0 or overflow < 0 else int(size + overflow)


def _check_min_idle(arguments: Mapping[str, Any], setting: str) -> None:
    min_idle, pool_size = (
        arguments.get("min_idle"),
        arguments.get("pool_size", DEFAULTS["pool_size"]),
    )
    if min_idle is not None and pool_size and min_idle > pool_size:
        raise ConfigError(
            f"{setting}['min_idle'] must be at most pool_size ({pool_size}), got {min_idle}: "
            f"connections beyond pool_size are overflow, closed once unused for max_idle. "
            f"Lower 'min_idle' or raise 'pool_size'."
        )


def shown(value: Any) -> str:
    """A refused value, for a message: a str says it is one (``the str '10'``), as values
    read from the environment are strs that look like numbers or booleans."""
    return f"the str {value!r}" if isinstance(value, str) else repr(value)


def _never_if_none(seconds: float | None) -> float:
    return float("inf") if seconds is None else float(seconds)


def validate_arguments(arguments: Any, setting: str, backend: type[sa_pool.Pool]) -> dict[str, Any]:
    """Checked copy of pool arguments; legacy ones warn and are dropped."""
    if not isinstance(arguments, Mapping):
        raise ConfigError(f"{setting} must be a dict of pool arguments, got {shown(arguments)}.")
    accepted = accepted_arguments(backend)
    checked: dict[str, Any] = {}
    for name, value in arguments.items():
        if name in LEGACY_ARGUMENTS:
            warnings.warn(
                f"{setting}[{name!r}] {LEGACY_ARGUMENTS[name]}. Remove it.",
                DeprecationWarning,
                stacklevel=2,
            )
            continue
        if name in MANAGED_ARGUMENTS:
            raise ConfigError(
                f"{setting}[{name!r}] is managed by django-mysqlpool and cannot be set; remove it."
            )
        if name in ELASTIC_ARGUMENTS and name not in accepted:
            raise ConfigError(
                f"{setting}[{name!r}] is honoured only by the default pool class "
                f"(ElasticPool), and this pool is a {backend.__name__}. Remove "
                f"MYSQLPOOL_BACKEND (or the alias's 'backend') to use the default, or "
                f"remove {name!r}."
            )
        if name not in accepted:
            raise ConfigError(
                f"{setting} has an unknown argument {name!r} for {backend.__name__}; "
                f"allowed: {', '.join(sorted(accepted))}."
            )
        rule = RULES[name]
        if not rule.check(value):
            raise ConfigError(f"{setting}[{name!r}] must be {rule.allowed}, got {shown(value)}.")
        checked[name] = value
    return checked


_accepted: dict[type[sa_pool.Pool], frozenset[str]] = {}


def accepted_arguments(backend: type[sa_pool.Pool]) -> frozenset[str]:
    """The arguments ``backend`` takes that we know how to validate (remembered per class:
    ``pool_stats()`` asks on every call)."""
    found = _accepted.get(backend)
    if found is None:
        found = _accepted[backend] = _read_accepted_arguments(backend)
    return found


def _read_accepted_arguments(backend: type[sa_pool.Pool]) -> frozenset[str]:
    names: set[str] = set()
    for klass in backend.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        names.update(p.name for p in parameters if p.kind is not p.VAR_KEYWORD)
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return frozenset((names & RULES.keys()) | set(OWN_ARGUMENTS))


def build(
    pool_option: Any, where: str, global_arguments: Any, global_backend: Any
) -> PoolConfig | None:
    """The configuration for a connect call's ``OPTIONS["pool"]`` (found at ``where``),
    given the global ``MYSQLPOOL_ARGUMENTS`` and ``MYSQLPOOL_BACKEND``; None: don't pool."""
    if pool_option is False:
        return None
    if pool_option is None or pool_option is True:
        overrides: Mapping[str, Any] = {}
    elif isinstance(pool_option, Mapping):
        overrides = pool_option
    else:
        raise ConfigError(
            f"{where} must be True, False or a dict of pool arguments, got {shown(pool_option)}."
        )
    global_arguments = global_arguments or {}
    if not isinstance(global_arguments, Mapping):
        raise ConfigError(
            f"MYSQLPOOL_ARGUMENTS must be a dict of pool arguments, got {shown(global_arguments)}."
        )
    global_arguments = dict(global_arguments)
    backend_value = global_backend
    legacy_class = global_arguments.get("poolclass")
    if backend_value is None and legacy_class is not None:
        backend_value = legacy_class
    backend_setting = "MYSQLPOOL_BACKEND"
    overrides = dict(overrides)
    if "backend" in overrides:
        backend_value, backend_setting = overrides.pop("backend"), f"{where}['backend']"
    backend = load_backend(
        DEFAULT_BACKEND if backend_value is None else backend_value, backend_setting
    )
    if backend_setting != "MYSQLPOOL_BACKEND":
        # An alias that picks its own pool class takes the global arguments that class has.
        accepted = accepted_arguments(backend) | LEGACY_ARGUMENTS.keys()
        global_arguments = {k: v for k, v in global_arguments.items() if k in accepted}
    arguments = validate_arguments(global_arguments, "MYSQLPOOL_ARGUMENTS", backend)
    arguments.update(validate_arguments(overrides, where, backend))
    _check_min_idle(arguments, where if "min_idle" in overrides else "MYSQLPOOL_ARGUMENTS")
    return PoolConfig(
        backend=backend,
        setting=where if isinstance(pool_option, Mapping) else "MYSQLPOOL_ARGUMENTS",
        arguments=arguments,
        pre_ping=bool(arguments.get("pre_ping", False)),
        pre_ping_after=arguments.get("pre_ping_after", DEFAULT_PRE_PING_AFTER),
        recycle=arguments.get("recycle"),
        reset=arguments.get("reset", "auto"),
        leak_timeout=arguments.get("leak_timeout"),
        hosts=tuple(arguments["hosts"]) if arguments.get("hosts") else None,
        host_backoff=float(arguments.get("host_backoff", DEFAULTS["host_backoff"])),
        require=arguments.get("require"),
        wait_warning_after=_never_if_none(
            arguments.get("wait_warning_after", DEFAULTS["wait_warning_after"])
        ),
    )
