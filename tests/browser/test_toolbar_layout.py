"""The pool's toolbar panel and Django's debug page, as headless Chromium lays them out at 1280x800.

A real ``runserver`` serves a page that borrows from three pools; the browser opens the
toolbar's "Connection pool" panel, which it fetches as a person's browser does, and the
layout is measured with JavaScript: nothing may stick out of the panel's pane sideways (the
toolbar's side bar covers what does), and each heading is one line. Run with
``make browser-test`` (``pytest -m browser tests/browser``: the default run leaves these out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Where the toolbar's elements are: in a shadow root since django-debug-toolbar 8.0.
TOOLBAR = 'const toolbar = document.getElementById("djDebugRoot")?.shadowRoot ?? document;\n'

#: The pool panel's pane (the toolbar's scrolling box) and what sits in it, in CSS pixels.
PANE_LAYOUT = """
const pane = toolbar.querySelector("#PoolPanel .djdt-scroll");
const style = getComputedStyle(pane);
const lineHeight = (element) => {
    const found = getComputedStyle(element);
    return parseFloat(found.lineHeight) || 1.2 * parseFloat(found.fontSize);
};
return {
    scrollWidth: pane.scrollWidth,
    clientWidth: pane.clientWidth,
    contentRight: pane.getBoundingClientRect().left + pane.clientLeft + pane.clientWidth
        - parseFloat(style.paddingRight),
    tables: [...pane.querySelectorAll("table")].map((table) => ({
        name: table.className,
        right: table.getBoundingClientRect().right,
    })),
    headings: [...pane.querySelectorAll("h4")].map((heading) => ({
        text: heading.textContent.replace(/\\s+/g, " ").trim(),
        height: heading.getBoundingClientRect().height,
        lineHeight: lineHeight(heading),
    })),
};
"""

#: Whether the pane holds the panel's content yet (the toolbar fetches it on the click).
PANE_FILLED = 'return toolbar.querySelector("#PoolPanel .djdt-scroll h4") !== null;'


def in_toolbar(browser: Any, script: str) -> Any:
    """Runs ``script`` with ``toolbar`` standing for the toolbar's root."""
    return browser.execute_script(TOOLBAR + script)


def open_pool_panel(browser: Any, url: str) -> dict[str, Any]:
    """Loads ``url``, clicks the pool panel's button in the side bar, and measures the panel."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    hosts = browser.find_elements(By.ID, "djDebugRoot")
    toolbar = hosts[0].shadow_root if hosts else browser
    button = toolbar.find_element(By.CSS_SELECTOR, "a.PoolPanel")
    wait = WebDriverWait(browser, 15)
    wait.until(lambda _: button.is_displayed())  # once the toolbar's script has shown it
    button.click()
    wait.until(lambda _: in_toolbar(browser, PANE_FILLED))
    layout: dict[str, Any] = in_toolbar(browser, PANE_LAYOUT)
    return layout


def assert_fits_its_pane(layout: dict[str, Any]) -> None:
    """Nothing in the panel is wider than its pane: no table cut off, none scrolled."""
    assert layout["scrollWidth"] <= layout["clientWidth"], layout
    for table in layout["tables"]:
        assert table["right"] <= layout["contentRight"] + 0.5, (table, layout["contentRight"])


def keep(browser: Any, screenshots: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Saves a screenshot and prints where, with the figures measured, past pytest's capture."""
    path = screenshots / f"{name}.png"
    browser.save_screenshot(str(path))
    with capsys.disabled():
        print(f"\nscreenshot: {path}")


def measured(layout: dict[str, Any]) -> str:
    tables = ", ".join(
        f"{table['name']} ends at {table['right']:.0f}" for table in layout["tables"]
    )
    headings = ", ".join(f"{heading['height']:.0f}" for heading in layout["headings"])
    return (
        f"pane {layout['clientWidth']} px wide, content {layout['scrollWidth']} px; pane content"
        f" ends at {layout['contentRight']:.0f}, {tables}; headings {headings} px high"
        f" (line {layout['headings'][0]['lineHeight']:.0f} px)"
    )


def test_the_pool_panel_fits_its_pane_in_a_1280_px_window(
    browser: Any, site: str, screenshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = open_pool_panel(browser, f"{site}/three-pools/")
    keep(browser, screenshots, "pool-panel", capsys)
    with capsys.disabled():
        print(f"pool panel: {measured(layout)}")
    in_toolbar(browser, 'toolbar.querySelector(".djdt-mysqlpool-pools").scrollIntoView();')
    keep(browser, screenshots, "pool-panel-pools", capsys)

    assert browser.execute_script("return window.innerWidth") == 1280
    names = [table["name"] for table in layout["tables"]]
    assert names == ["djdt-mysqlpool-borrows", "djdt-mysqlpool-pools"]
    assert_fits_its_pane(layout)


def test_each_heading_of_the_pool_panel_is_one_line(browser: Any, site: str) -> None:
    layout = open_pool_panel(browser, f"{site}/three-pools/")

    borrows, pools = layout["headings"]
    assert borrows["text"] == "Borrows during this request"
    assert pools["text"].startswith("Pools of process") and "pool_stats()" in pools["text"]
    for heading in (borrows, pools):
        assert heading["height"] < 1.6 * heading["lineHeight"], heading


def test_djangos_debug_page_for_a_refused_connect_fits_the_window_and_so_does_the_panel(
    browser: Any, site: str, screenshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from selenium.webdriver.common.by import By

    layout = open_pool_panel(browser, f"{site}/refused/")  # the toolbar shows on it too
    keep(browser, screenshots, "debug-page-pool-panel", capsys)
    in_toolbar(browser, 'toolbar.querySelector("#PoolPanel .djDebugClose").click();')
    keep(browser, screenshots, "debug-page", capsys)
    page = browser.execute_script(
        "const root = document.documentElement;"
        "return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth};"
    )
    with capsys.disabled():
        print(f"debug page: {page}; its pool panel: {measured(layout)}")

    assert "Access denied" in browser.find_element(By.ID, "summary").text
    assert page["scrollWidth"] <= page["clientWidth"], page
    assert len(layout["tables"]) == 1  # the pools': nothing was borrowed
    assert_fits_its_pane(layout)
