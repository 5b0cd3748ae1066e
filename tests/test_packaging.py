"""The package builds into a wheel that carries the backend, py.typed and its metadata, and
every file that names the supported Python and Django releases names the same ones."""

from __future__ import annotations

import configparser
import itertools
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

#: The one list of supported releases that setup.cfg, tox.ini, the backend and the docs follow.
SUPPORTED_PYTHON = ["3.11", "3.12", "3.13"]
SUPPORTED_DJANGO = ["5.2", "6.0", "6.1"]
#: Django releases that need a newer Python than the oldest supported one.
DJANGO_NEEDS_PYTHON = {"6.0": "3.12", "6.1": "3.12"}
#: The extras users install; developer tools live in requirements/, never in the metadata.
PUBLISHED_EXTRAS = {"pymysql", "prometheus", "opentelemetry", "debug-toolbar"}
#: The pages that state the supported releases, each as "Python 3.x-3.y" and "Django a.b ...".
PAGES_NAMING_VERSIONS = ["README.rst", "docs/index.rst", "docs/development.rst"]


def release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def read_ini(name: str) -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / name, encoding="utf-8")
    return config


def lines_of(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def test_the_version_is_the_changelogs_newest_release():
    headings = re.findall(
        r"^(\d+\.\d+\.\d+) — \d{4}-\d{2}-\d{2}$", (ROOT / "CHANGELOG.rst").read_text(), re.M
    )
    assert headings and headings[0] == VERSION


def test_classifiers_name_exactly_the_supported_pythons_and_djangos():
    classifiers = lines_of(read_ini("setup.cfg")["metadata"]["classifiers"])
    pythons = [
        c.rpartition(" :: ")[2]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    djangos = [
        c.rpartition(" :: ")[2]
        for c in classifiers
        if re.fullmatch(r"Framework :: Django :: \d+\.\d+", c)
    ]
    assert (pythons, djangos) == (SUPPORTED_PYTHON, SUPPORTED_DJANGO)


def test_install_requirements_start_at_the_oldest_supported_releases():
    options = read_ini("setup.cfg")["options"]
    assert options["python_requires"] == f">={SUPPORTED_PYTHON[0]}"
    djangos = [r for r in lines_of(options["install_requires"]) if r.startswith("Django")]
    assert djangos == [f"Django>={SUPPORTED_DJANGO[0]}"]


def test_only_the_user_facing_extras_are_published():
    extras = read_ini("setup.cfg")["options.extras_require"]
    assert set(extras) == PUBLISHED_EXTRAS


def tox_environments() -> list[str]:
    """``[tox] envlist`` with each ``{a,b}`` expanded, as tox does."""
    names = []
    for line in lines_of(read_ini("tox.ini")["tox"]["envlist"]):
        parts = re.split(r"(\{[^}]*\})", line)
        choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
        names += ["".join(combination) for combination in itertools.product(*choices)]
    return names


def test_tox_runs_every_supported_python_with_every_django_it_can_run():
    django_of_factor = {
        factor: pin.split(">=")[1].split(",")[0]
        for factor, pin in (
            line.split(": ", 1)
            for line in lines_of(read_ini("tox.ini")["testenv"]["deps"])
            if line.startswith("dj")
        )
    }
    pairs = set()
    for name in tox_environments():
        python, django, _sqlalchemy = name.split("-")
        pairs.add((f"{python[2]}.{python[3:]}", django_of_factor[django]))
    expected = {
        (python, django)
        for python in SUPPORTED_PYTHON
        for django in SUPPORTED_DJANGO
        if release(python) >= release(DJANGO_NEEDS_PYTHON.get(django, python))
    }
    assert pairs == expected


#: A release as the docs write it: "5.2" or "5.2 LTS", never the start of "5.2.19".
RELEASE = r"\d+\.\d+(?!\.?\d)(?: LTS)?"


def python_range(statement: str) -> list[str]:
    """``"3.11-3.13"`` -> ``["3.11", "3.12", "3.13"]``."""
    major, first, last = re.fullmatch(r"(\d+)\.(\d+)-\1\.(\d+)", statement).groups()
    return [f"{major}.{minor}" for minor in range(int(first), int(last) + 1)]


@pytest.mark.parametrize("page", PAGES_NAMING_VERSIONS)
def test_the_docs_name_the_supported_pythons_and_djangos(page):
    """Each page says "Python 3.x-3.y" once and lists several Django releases once."""
    text = " ".join((ROOT / page).read_text(encoding="utf-8").split())
    pythons = re.findall(r"\bPython (3\.\d+-3\.\d+)\b", text)
    djangos = re.findall(rf"\bDjango ({RELEASE}(?:(?:, | / | or ){RELEASE})+)", text)
    assert [python_range(statement) for statement in pythons] == [SUPPORTED_PYTHON]
    assert [re.findall(r"\d+\.\d+", statement) for statement in djangos] == [SUPPORTED_DJANGO]


def test_an_older_django_is_refused_naming_the_installed_and_supported_releases():
    code = (
        "import django; django.VERSION = (4, 2, 30, 'final', 0)\n"
        "import django_mysqlpool.backends.mysqlpool.base"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 1
    *_, message = result.stderr.strip().splitlines()
    supported = f"{', '.join(SUPPORTED_DJANGO[:-1])} and {SUPPORTED_DJANGO[-1]}"
    assert message == (
        f"django.core.exceptions.ImproperlyConfigured: django-mysqlpool {VERSION} supports "
        f"Django {supported}; Django 4.2.30 is installed. Upgrade Django, or install "
        "django-mysqlpool 1.1, the last release for Django before 5.2."
    )


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
    assert metadata["Requires-Python"] == f">={SUPPORTED_PYTHON[0]}"
    assert {f"Django>={SUPPORTED_DJANGO[0]}", "SQLAlchemy<2.2,>=2.0", "mysqlclient>=2.2"} <= set(
        requires
    )
    assert set(metadata.get_all("Provides-Extra")) == PUBLISHED_EXTRAS
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
