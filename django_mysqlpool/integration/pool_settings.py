"""Read MYSQLPOOL_BACKEND, MYSQLPOOL_ARGUMENTS and OPTIONS["pool"] from Django's settings.

Settings are read when a pool is created, so ``override_settings`` applies to pools
created inside it. The rules live in ``pool/config.py``; a value they refuse raises
``ImproperlyConfigured`` naming the setting, the value, what is allowed and the fix.
"""

from __future__ import annotations

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
