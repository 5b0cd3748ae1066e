"""Operations: system checks, the ``mysqlpool`` management command, Prometheus metrics.

What people running the pool see of it; built on ``integration`` and ``core``.
"""
