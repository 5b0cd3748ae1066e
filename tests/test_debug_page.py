"""Django's debug page shows a database password no more often than for Django's own backend.

With ``DEBUG = True`` Django's technical 500 page prints the local variables of every
frame of a failed connect. The pool's frames sit between Django's and the driver's and
must add no copy of the password: the count on Django's own MySQL backend, with the
pool's patch not installed (Django's ``conn_params``, the driver's kwargs), is the bar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import MySQLdb
import pytest
from django.db import utils
from django.test import RequestFactory
from django.views.debug import ExceptionReporter, technical_500_response

from django_mysqlpool.integration import patch

SECRET = "Qx-debug-page-Pa55word-7Hn2"  # grep target
PLAIN = "django.db.backends.mysql"
urlpatterns: list[Any] = []  # the debug page resolves the request's path: no views here


def refused_connect(wrapper: Any) -> BaseException:
    with pytest.raises(utils.OperationalError) as caught:
        wrapper.ensure_connection()
    return caught.value


@pytest.fixture
def debug(settings: Any) -> Any:
    settings.DEBUG = True
    settings.ROOT_URLCONF = __name__
    return settings


def debug_page(error: BaseException) -> str:
    """The technical 500 page Django serves for ``error`` (its HTML, as the browser gets it)."""
    request = RequestFactory().get("/orders/")
    response = technical_500_response(request, type(error), error, error.__traceback__)
    return str(response.content.decode())


def mailed_report(error: BaseException) -> str:
    """The HTML report ``AdminEmailHandler`` mails (no request: a management command's)."""
    reporter = ExceptionReporter(None, type(error), error, error.__traceback__, is_email=True)
    return str(reporter.get_traceback_html())


@pytest.fixture
def unpatched() -> Iterator[Callable[[], None]]:
    """Runs a block with the driver's own ``connect``: Django's backend, untouched."""
    removed = []

    def remove() -> None:
        patch.uninstall(MySQLdb)
        removed.append(True)

    yield remove
    if removed:
        patch.install(MySQLdb)


def counts(
    make_wrapper: Callable[..., Any],
    unpatched: Callable[[], None],
    render: Callable[[BaseException], str],
    **changes: Any,
) -> dict[str, int]:
    """How often each backend's page for the same refused connect shows the password."""
    pages = {
        "pooled": render(refused_connect(make_wrapper(PASSWORD=SECRET, **changes))),
        # Django's backend in a process where the pool's patch is installed (another alias).
        "plain alias": render(
            refused_connect(make_wrapper(engine=PLAIN, pool=None, PASSWORD=SECRET, **changes))
        ),
    }
    unpatched()
    pages["django"] = render(
        refused_connect(make_wrapper(engine=PLAIN, pool=None, PASSWORD=SECRET, **changes))
    )
    return {name: page.count(SECRET) for name, page in pages.items()}


def test_a_refused_password_shows_on_the_debug_page_no_more_often_than_with_djangos_backend(
    make_wrapper: Callable[..., Any], unpatched: Callable[[], None], debug: Any
) -> None:
    seen = counts(make_wrapper, unpatched, debug_page)
    assert seen["django"] > 0  # the bar is real: Django's page shows its conn_params
    assert seen["pooled"] <= seen["django"], seen
    assert seen["plain alias"] <= seen["django"], seen


def test_an_unreachable_server_shows_the_password_no_more_often_than_djangos_backend(
    make_wrapper: Callable[..., Any], unpatched: Callable[[], None], debug: Any
) -> None:
    seen = counts(make_wrapper, unpatched, debug_page, PORT=1)  # nothing listens on port 1
    assert seen["pooled"] <= seen["django"], seen
    assert seen["plain alias"] <= seen["django"], seen


def test_the_report_mailed_with_debug_off_shows_the_password_no_more_than_djangos(
    make_wrapper: Callable[..., Any], unpatched: Callable[[], None], settings: Any
) -> None:
    settings.DEBUG = False
    seen = counts(make_wrapper, unpatched, mailed_report)
    assert seen["pooled"] <= seen["django"], seen
    assert seen["plain alias"] <= seen["django"], seen


def test_the_debug_page_names_the_refusal_and_the_target_but_not_the_password(
    make_wrapper: Callable[..., Any], debug: Any
) -> None:
    error = refused_connect(make_wrapper(PASSWORD=SECRET))
    page = debug_page(error)
    assert "1045" in page and "Access denied" in page
    chained: BaseException | None = error
    while chained is not None:
        assert SECRET not in str(chained) and SECRET not in repr(chained)
        chained = chained.__cause__ or chained.__context__


def test_the_settings_section_of_the_debug_page_hides_database_passwords(
    make_wrapper: Callable[..., Any], debug: Any
) -> None:
    debug.MYSQLPOOL_DEBUG_PAGE_DATABASE = {"PASSWORD": SECRET, "OPTIONS": {"pool": True}}
    page = debug_page(refused_connect(make_wrapper(PASSWORD=SECRET)))
    section = page[page.index('id="settings-info"') :]
    assert "MYSQLPOOL_DEBUG_PAGE_DATABASE" in section
    assert SECRET not in section
