"""The package builds into a wheel that carries the backend, py.typed and its metadata."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import django_mysqlpool

ROOT = Path(__file__).resolve().parent.parent
VERSION = django_mysqlpool.__version__


def test_the_version_is_the_changelogs_newest_release():
    headings = re.findall(
        r"^(\d+\.\d+\.\d+) \(\d{4}-\d{2}-\d{2}\)$", (ROOT / "CHANGELOG.rst").read_text(), re.M
    )
    assert headings and headings[0] == VERSION


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    [built] = out.glob(f"django_mysqlpool-{VERSION}-*.whl")
    return built


@pytest.mark.slow
def test_wheel_carries_the_backend_and_type_marker(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "django_mysqlpool/backends/mysqlpool/base.py" in names
    assert "django_mysqlpool/py.typed" in names
    assert "django_mysqlpool/templates/django_mysqlpool/debug_toolbar/pool.html" in names
    assert not any(name.startswith("tests/") for name in names)


@pytest.mark.slow
def test_wheel_metadata_declares_versions_requirements_and_extras(wheel):
    archive = zipfile.ZipFile(wheel)
    [metadata_name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(archive.read(metadata_name).decode())
    requires = metadata.get_all("Requires-Dist")
    assert metadata["Name"] == "django-mysqlpool" and metadata["Version"] == VERSION
    assert metadata["Requires-Python"] == ">=3.10"
    assert {"Django>=4.2", "SQLAlchemy<2.2,>=2.0", "mysqlclient>=2.2"} <= set(requires)
    assert {"pymysql", "prometheus", "opentelemetry", "debug-toolbar", "test"} <= set(
        metadata.get_all("Provides-Extra")
    )
    assert metadata["License-Expression"] == "MIT"


@pytest.mark.slow
def test_installed_wheel_imports_the_backend(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    code = (
        "import django_mysqlpool, sys; "
        "assert django_mysqlpool.__file__.startswith(sys.argv[1]), django_mysqlpool.__file__; "
        "print(django_mysqlpool.__version__, sorted(django_mysqlpool.__all__))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.stdout.split()[0] == VERSION
    assert "'auto_close_db'" in result.stdout and "'pool_stats'" in result.stdout
