"""Django's own MySQL backend, with the driver's ``connect`` swapped for a pooled one."""

import django
from django.core.exceptions import ImproperlyConfigured

from django_mysqlpool import __version__

# Checked before anything else is imported, so an old Django gets this message rather than
# whatever of ours it fails on first. setup.cfg, tox.ini and the docs name the same releases.
SUPPORTED_DJANGO = ("5.2", "6.0", "6.1")
if django.VERSION < (5, 2):
    raise ImproperlyConfigured(
        f"django-mysqlpool {__version__} supports Django {', '.join(SUPPORTED_DJANGO[:-1])} "
        f"and {SUPPORTED_DJANGO[-1]}; Django {django.get_version()} is installed. Upgrade "
        "Django, or install django-mysqlpool 1.1, the last release for Django before 5.2."
    )

from django.db.backends.mysql.base import Database, DatabaseWrapper  # type: ignore[attr-defined]  # noqa: E402

from django_mysqlpool.integration import engine_checks  # noqa: E402
from django_mysqlpool.integration.patch import install  # noqa: E402

install(Database)
engine_checks.register()  # with or without the optional app

#: Connections made for this ENGINE (and ENGINEs that import this module's names) are pooled.
MYSQLPOOL_POOLED_ENGINE = True

__all__ = ["DatabaseWrapper", "MYSQLPOOL_POOLED_ENGINE"]  # both reach a star import
