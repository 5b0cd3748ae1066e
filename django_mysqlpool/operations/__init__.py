"""Operations: system checks, the ``mysqlpool`` management command, Prometheus and
OpenTelemetry metrics, the debug toolbar panel.

What people running the pool see of it; built on ``integration`` and ``core``.
"""
