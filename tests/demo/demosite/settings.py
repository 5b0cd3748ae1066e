"""The demo site's settings: the server from MYSQLPOOL_TEST_*, the backend from DEMO_ENGINE."""

from __future__ import annotations

import os
from typing import Any

from tests.support.observer import django_database

if os.environ.get("DEMO_DRIVER") == "pymysql":  # before Django imports MySQLdb
    import pymysql

    pymysql.install_as_MySQLdb()

POOLED_ENGINE = "django_mysqlpool.backends.mysqlpool"
ENGINE = os.environ.get("DEMO_ENGINE", POOLED_ENGINE)


def pool_option() -> dict[str, int | float] | bool:
    """OPTIONS["pool"] from DEMO_POOL_SIZE / DEMO_MAX_OVERFLOW / DEMO_POOL_TIMEOUT, if set."""
    arguments: dict[str, int | float] = {}
    for variable, argument, kind in (
        ("DEMO_POOL_SIZE", "pool_size", int),
        ("DEMO_MAX_OVERFLOW", "max_overflow", int),
        ("DEMO_POOL_TIMEOUT", "timeout", float),
    ):
        if os.environ.get(variable):
            arguments[argument] = kind(os.environ[variable])
    return arguments or True


OPTIONS: dict[str, Any] = {}
if ENGINE == POOLED_ENGINE:  # Django's own backend would hand "pool" to the driver
    OPTIONS["pool"] = pool_option()

DATABASES = {
    "default": django_database(
        ENGINE=ENGINE,
        CONN_MAX_AGE=0,  # Django closes at the end of each request: the pool gets it back
        OPTIONS=OPTIONS,
    ),
}

SECRET_KEY = "django-mysqlpool-demo"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "demosite.urls"
WSGI_APPLICATION = "demosite.wsgi.application"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # tests/test_prometheus.py under gunicorn
    MIDDLEWARE.append("django_mysqlpool.prometheus.MetricsMiddleware")
USE_TZ = True

# With DEBUG off Django prints no traceback for a failed request; the demo wants to show it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
}
