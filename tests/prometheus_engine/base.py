"""django-prometheus's MySQL ENGINE, pooled: the recipe in docs/recipes.rst, as a user
writes it (``ENGINE = "tests.prometheus_engine"``).

django-prometheus's ``DatabaseWrapper`` counts queries; importing our ``base`` installs the
pooled ``connect`` and its flag marks this ENGINE's aliases as pooled.
"""

from django_prometheus.db.backends.mysql.base import DatabaseWrapper  # noqa: F401

from django_mysqlpool.backends.mysqlpool.base import MYSQLPOOL_POOLED_ENGINE  # noqa: F401
