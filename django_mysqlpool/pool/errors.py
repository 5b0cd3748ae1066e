"""The errors the pool raises into Django code.

Each subclasses the driver's ``OperationalError``, so Django's ``wrap_database_errors``
turns it into ``django.db.utils.OperationalError`` and existing ``except`` clauses keep
working. Import this module after ``pymysql.install_as_MySQLdb()`` when using PyMySQL.
"""

from __future__ import annotations

import MySQLdb

__all__ = ["PoolError", "PoolTimeout", "TooManyWaiting"]

#: Where users import these from (``django_mysqlpool.PoolTimeout``): what tracebacks and
#: reprs name, and where pickle finds them again.
PUBLIC_MODULE = "django_mysqlpool"


class PoolError(MySQLdb.OperationalError):  # type: ignore[misc]
    """Base class of the errors raised by django-mysqlpool."""

    __module__ = PUBLIC_MODULE


class PoolTimeout(PoolError):
    """No pooled connection became free within the pool's ``timeout``."""

    __module__ = PUBLIC_MODULE


class TooManyWaiting(PoolError):
    """``max_waiting`` borrowers were already queued: this one was refused at once."""

    __module__ = PUBLIC_MODULE
