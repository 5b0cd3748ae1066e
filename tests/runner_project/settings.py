"""A tiny project for test_test_databases.py: Django's own test runner on the pooled ENGINE."""

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        **DATABASES["default"],  # noqa: F405
        "TEST": {"NAME": "test_mpr_default"},
    },
    "other": {
        **DATABASES["default"],  # noqa: F405
        "TEST": {"NAME": "test_mpr_other"},
    },
}
