"""The optional app: add ``"django_mysqlpool"`` to INSTALLED_APPS for checks and a command."""

from __future__ import annotations

from django.apps import AppConfig


class MysqlPoolConfig(AppConfig):
    name = "django_mysqlpool"
    verbose_name = "django-mysqlpool"

    def ready(self) -> None:
        from .operations import checks  # noqa: F401  (registers the system checks)
