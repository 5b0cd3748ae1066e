"""Django's own MySQL backend, with the driver's ``connect`` swapped for a pooled one."""

from django.db.backends.mysql.base import Database, DatabaseWrapper  # type: ignore[attr-defined]

from django_mysqlpool.patch import install

install(Database)

__all__ = ["DatabaseWrapper"]
