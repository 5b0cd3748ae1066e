"""Where settings and code name the Prometheus integration: ``django_mysqlpool.prometheus``.

``MIDDLEWARE = [..., "django_mysqlpool.prometheus.MetricsMiddleware"]`` and
``django_mysqlpool.prometheus.register()``; the implementation is
``operations/prometheus.py``.
"""

from .operations.prometheus import MetricsMiddleware, publish, register

__all__ = ["MetricsMiddleware", "publish", "register"]
