"""Where code names the OpenTelemetry metrics: ``django_mysqlpool.opentelemetry``.

``django_mysqlpool.opentelemetry.instrument_pool_metrics()``; the implementation is
``operations/opentelemetry.py``.
"""

from .operations.opentelemetry import instrument_pool_metrics, uninstrument_pool_metrics

__all__ = ["instrument_pool_metrics", "uninstrument_pool_metrics"]
