"""A tiny project for test_test_databases.py: Django's own test runner on the pooled ENGINE."""

from tests.settings import *  # noqa: F403
from tests.support.names import unique

DATABASES = {
    "default": {
        **DATABASES["default"],  # noqa: F405
        "TEST": {"NAME": unique("runner_default")},
    },
    "other": {
        **DATABASES["default"],  # noqa: F405
        "TEST": {"NAME": unique("runner_other")},
    },
}
