"""Django's own MySQL backend, with the driver's ``connect`` swapped for a pooled one."""

from django.db.backends.mysql.base import Database, DatabaseWrapper  # type: ignore[attr-defined]

from django_mysqlpool.integration import engine_checks
from django_mysqlpool.integration.patch import install

install(Database)
engine_checks.register()  # with or without the optional app

#: Connections made for this ENGINE (and ENGINEs that import this module's names) are pooled.
MYSQLPOOL_POOLED_ENGINE = True

__all__ = ["DatabaseWrapper", "MYSQLPOOL_POOLED_ENGINE"]  # both reach a star import
