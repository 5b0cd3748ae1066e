"""Fixtures for the browser tests: the site under ``runserver``, and headless Chromium.

Chromium and chromedriver are Debian's packages (``.ci/browser-deps.sh``), driven by Selenium
with no download of its own; without any of the three the tests skip, saying which is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mariadb_server import free_port

REPO = Path(__file__).resolve().parents[2]
WINDOW = (1280, 800)  # a laptop's browser window, where the panel used to cut columns off


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of ``tests/browser/settings.py``'s site under ``manage.py runserver``."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("runserver") / "runserver.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.browser.settings"}
    command = [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(server, url, log_path)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def _wait_until_serving(server: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"runserver exited ({server.returncode}): {log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/three-pools/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:  # not listening yet (URLError is one)
            time.sleep(0.2)
    raise AssertionError(f"runserver did not answer within 30 s: {log_path.read_text()}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium with a 1280x800 window, through Debian's chromedriver."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        found = {"chromium": chromium, "chromedriver": chromedriver}
        missing = [name for name, path in found.items() if path is None]
        pytest.skip(
            f"{' and '.join(missing)} not found on PATH: make browser-test installs Debian's "
            "chromium and chromium-driver (.ci/browser-deps.sh)"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed: make browser-test installs it into .venv")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size={},{}".format(*WINDOW))
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    """Where the tests leave their screenshots (kept after the run, to look at)."""
    return Path(tempfile.mkdtemp(prefix="mysqlpool-browser-"))
