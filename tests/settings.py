"""Django settings for the test suite: the server comes from MYSQLPOOL_TEST_* variables.

``MYSQLPOOL_TEST_DRIVER=pymysql`` runs the suite with PyMySQL installed as MySQLdb (this
module is imported before Django loads its MySQL backend).
"""

import os

if os.environ.get("MYSQLPOOL_TEST_DRIVER") == "pymysql":
    import pymysql

    pymysql.install_as_MySQLdb()

from tests.support.names import unique  # noqa: E402
from tests.support.observer import django_database, server_params  # noqa: E402

_server = server_params()
DB_HOST, DB_PORT, DB_NAME = _server["host"], _server["port"], _server["database"]

SECRET_KEY = "django-mysqlpool-tests"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_mysqlpool"]
DATABASES = {
    "default": django_database(
        ENGINE="django_mysqlpool.backends.mysqlpool",
        TEST={"NAME": unique(f"test_{DB_NAME}")},  # two runs on one server never share it
    ),
}
MYSQLPOOL_ARGUMENTS = {"pool_size": 5, "max_overflow": 10, "timeout": 10}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
