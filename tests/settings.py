"""Django settings for the test suite: the server comes from MYSQLPOOL_TEST_* variables."""

import os

DB_HOST = os.environ.get("MYSQLPOOL_TEST_HOST", "127.0.0.1")
DB_PORT = int(os.environ.get("MYSQLPOOL_TEST_PORT", "3306"))
DB_USER = os.environ.get("MYSQLPOOL_TEST_USER", "root")
DB_PASSWORD = os.environ.get("MYSQLPOOL_TEST_PASSWORD", "")
DB_NAME = os.environ.get("MYSQLPOOL_TEST_DB", "test")

SECRET_KEY = "django-mysqlpool-tests"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
DATABASES = {
    "default": {
        "ENGINE": "django_mysqlpool.backends.mysqlpool",
        "HOST": DB_HOST,
        "PORT": DB_PORT,
        "USER": DB_USER,
        "PASSWORD": DB_PASSWORD,
        "NAME": DB_NAME,
        "TEST": {"NAME": f"test_{DB_NAME}_mysqlpool"},
    },
}
MYSQLPOOL_ARGUMENTS = {"pool_size": 5, "max_overflow": 10, "timeout": 10}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
