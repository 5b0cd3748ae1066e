"""Operations: system checks, the ``mysqlpool`` management command, Prometheus metrics,
the debug toolbar panel.

What people running the pool see of it; built on ``integration`` and ``core``.
"""
