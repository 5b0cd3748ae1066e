"""The site ``make browser-test`` serves with ``runserver``: the test server's database under
three aliases (three pools), django-debug-toolbar with the pool's panel, and ``DEBUG`` on.
"""

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS
from tests.support.observer import django_database

DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1"]
INTERNAL_IPS = ["127.0.0.1"]  # the toolbar shows itself to these clients only
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.staticfiles", "debug_toolbar"]
STATIC_URL = "/static/"  # runserver serves the toolbar's CSS and JavaScript
ROOT_URLCONF = "tests.browser.urls"
MIDDLEWARE = ["debug_toolbar.middleware.DebugToolbarMiddleware"]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DEBUG_TOOLBAR_CONFIG = {"RENDER_PANELS": False}  # the browser fetches each panel, as usual
DEBUG_TOOLBAR_PANELS = [
    "debug_toolbar.panels.sql.SQLPanel",
    "django_mysqlpool.debug_toolbar.PoolPanel",
]
_engine = "django_mysqlpool.backends.mysqlpool"
_small = {"OPTIONS": {"pool": {"pool_size": 2, "max_overflow": 3, "timeout": 5}}}
DATABASES = {
    "default": DATABASES["default"],
    # Settings of their own, so pools of their own (a pool is per target and settings).
    "replica": django_database(ENGINE=_engine, **_small),
    "reports": django_database(ENGINE=_engine, OPTIONS={"pool": {"pool_size": 1}}),
    # A password the server refuses: the debug page of a failed connect.
    "refused": django_database(ENGINE=_engine, PASSWORD="browser-test-refused", **_small),
}
