"""Run Django's own test suite against the plain MySQL backend and the pooled one, compare failures.

Both runs share the server, the Django version and the environment, so any failure that shows up
on one side only is caused by the pool. See README.md in this folder for how to read the output.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PLAIN_ENGINE = "django.db.backends.mysql"
POOLED_ENGINE = "django_mysqlpool.backends.mysqlpool"
DEFAULT_APPS = ["backends", "transactions", "basic", "queries", "select_for_update", "model_fields"]
REPO_ROOT = Path(__file__).resolve().parents[2]

# Django's parallel runner pickles every failure's traceback to send it to the parent; without
# tblib the first failing test aborts the whole run instead of being reported.
PARALLEL_REQUIREMENTS = ["tblib"]

# Connection values come from the environment so the settings files never hold a password.
SERVER_ENV_DEFAULTS = {
    "MYSQLPOOL_TEST_HOST": "127.0.0.1",
    "MYSQLPOOL_TEST_PORT": "3306",
    "MYSQLPOOL_TEST_USER": "root",
    "MYSQLPOOL_TEST_PASSWORD": "",
}

SETTINGS_TEMPLATE = '''\
"""Settings for Django's runtests.py, {label} run. Written by tests/compat/run_compat.py."""

import os


def _database(alias):
    # Read at import time so the password lives in the environment only.
    return {{
        "ENGINE": {engine!r},
        "HOST": os.environ["MYSQLPOOL_TEST_HOST"],
        "PORT": os.environ["MYSQLPOOL_TEST_PORT"],
        "USER": os.environ["MYSQLPOOL_TEST_USER"],
        "PASSWORD": os.environ["MYSQLPOOL_TEST_PASSWORD"],
        "NAME": "mpc_{label}_" + alias,
        "TEST": {{"NAME": "test_mpc_{label}_" + alias, "CHARSET": "utf8mb4"}},
    }}


DATABASES = {{"default": _database("default"), "other": _database("other")}}
SECRET_KEY = "django_tests_secret_key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = False
'''

# "test_x (app.module.Class.test_x) ... FAIL", optionally with a subtest suffix before the dots.
RESULT_LINE = re.compile(
    r"^(?P<name>\S+) \((?P<dotted>[\w.]+)\).*? \.\.\. (?P<outcome>FAIL|ERROR|unexpected success)$"
)
# The report blocks after the run: "FAIL: test_x (app.module.Class.test_x)".
REPORT_HEADER = re.compile(
    r"^(?P<outcome>FAIL|ERROR|UNEXPECTED SUCCESS): (?P<name>\S+) \((?P<dotted>[\w.]+)\)"
)
REPORT_SEPARATOR = "\n" + "=" * 70 + "\n"
# The exception line closing a traceback ("django.db.utils.InternalError: (6, ...)"), not the
# assertion diff lines that may follow it.
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*: ")
RAN_LINE = re.compile(r"^Ran (?P<count>\d+) tests? in ")
VERDICT_LINE = re.compile(r"^(?:OK|FAILED)(?: \((?P<counts>.*)\))?$")


@dataclass(frozen=True)
class Backend:
    """One column of the comparison: a label used in names and the ENGINE under test."""

    label: str
    engine: str


@dataclass
class RunResult:
    """What one runtests.py invocation reported, parsed from its log."""

    ran: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    reasons: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    log: Path = Path()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line; the app list defaults to a few minutes' worth of DB-heavy apps."""
    parser = argparse.ArgumentParser(description=__doc__)
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--full", action="store_true", help="run Django's whole test suite")
    scope.add_argument("--apps", nargs="+", metavar="APP", help="test labels for runtests.py")
    parser.add_argument("--parallel", default="2", help="runtests.py --parallel (default: 2)")
    # Lets the harness be exercised before the package exists: pass the plain engine here.
    parser.add_argument("--pooled-engine", default=POOLED_ENGINE, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def cache_dir() -> Path:
    """Where the Django sdist, settings and logs live; reused across runs to skip the download."""
    return Path(os.environ.get("MYSQLPOOL_COMPAT_CACHE", ".cache/django-src")).resolve()


def fetch_django_tests(version: str, cache: Path) -> Path:
    """Return Django's tests/ folder for `version`, downloading and unpacking the sdist once.

    The tests must match the installed Django exactly, so they come from that release's sdist.
    """
    tests = cache / f"django-{version}" / "tests"
    if (tests / "runtests.py").is_file():
        return tests
    cache.mkdir(parents=True, exist_ok=True)
    archives = list(cache.glob(f"[Dd]jango-{version}.tar.gz"))
    if not archives:
        print(f"downloading the Django {version} sdist into {cache}")
        pip = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
        subprocess.run([*pip, "-d", str(cache), f"Django=={version}"], check=True)
        archives = list(cache.glob(f"[Dd]jango-{version}.tar.gz"))
    with tarfile.open(archives[0]) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(cache, filter="data")
        else:  # Python 3.11 before 3.11.4 has no extraction filters; the archive is PyPI's.
            archive.extractall(cache)
    return tests


def requirement_spec(tests: Path, name: str) -> str:
    """Django's own version bound for an optional test dependency, from requirements/py3.txt."""
    for line in (tests / "requirements" / "py3.txt").read_text().splitlines():
        if re.match(rf"{re.escape(name)}\b", line.strip(), re.IGNORECASE):
            return line.split(";")[0].replace(" ", "")
    return name


def ensure_test_requirements(tests: Path, cache: Path) -> Path:
    """Install what runtests.py cannot do without, into the cache, leaving the venv untouched.

    Every other optional dependency (Pillow, PyYAML, jinja2, ...) only makes runtests.py skip the
    tests that need it, identically for both backends, so nothing else is installed.
    """
    target = cache / "site-packages"
    missing = [
        name
        for name in PARALLEL_REQUIREMENTS
        if not (target / name).is_dir() and not _importable(name)
    ]
    if missing:
        specs = [requirement_spec(tests, name) for name in missing]
        print(f"installing {' '.join(specs)} into {target}")
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target)]
        subprocess.run([*pip, *specs], check=True)
    return target


def _importable(module: str) -> bool:
    """Whether `module` imports in the interpreter that will run runtests.py."""
    probe = [sys.executable, "-c", f"import {module}"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def write_settings(backend: Backend, folder: Path) -> str:
    """Write the settings module for one backend and return its dotted name."""
    folder.mkdir(parents=True, exist_ok=True)
    module = f"mpc_{backend.label}_settings"
    text = SETTINGS_TEMPLATE.format(label=backend.label, engine=backend.engine)
    (folder / f"{module}.py").write_text(text)
    return module


def runtests_env(python_path: Iterable[Path]) -> dict[str, str]:
    """The child environment: server coordinates resolved, our package and helpers importable."""
    env = dict(os.environ)
    for name, default in SERVER_ENV_DEFAULTS.items():
        env.setdefault(name, default)
    paths = [str(path) for path in python_path]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def check_engine(engine: str, env: Mapping[str, str]) -> None:
    """Fail before a multi-minute run if the ENGINE's base module does not import."""
    probe = [sys.executable, "-c", f"import importlib; importlib.import_module('{engine}.base')"]
    result = subprocess.run(probe, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["?"])[-1]
        sys.exit(f"ENGINE {engine!r} does not import: {last_line}")


def run_backend(
    backend: Backend, command: list[str], tests: Path, env: dict[str, str], log: Path
) -> None:
    """Run runtests.py for one backend, its whole output going to `log` for parsing and reading."""
    log.parent.mkdir(parents=True, exist_ok=True)
    target = (
        f"{env['MYSQLPOOL_TEST_USER']}@{env['MYSQLPOOL_TEST_HOST']}:{env['MYSQLPOOL_TEST_PORT']}"
    )
    print(f"running {backend.label} ({backend.engine}) against {target}; log: {log}", flush=True)
    with log.open("w") as output:
        subprocess.run(command, cwd=tests, env=env, stdout=output, stderr=subprocess.STDOUT)


def failing_id(name: str, dotted: str) -> str:
    """A stable id: the dotted path, plus the method name when unittest left it out (setUpClass)."""
    return dotted if dotted == name or dotted.endswith("." + name) else f"{dotted}.{name}"


def parse_log(text: str) -> RunResult:
    """Collect the failing test ids and the summary counts from a -v 2 runtests.py log.

    Both the per-test lines and the report blocks are read: a test with a docstring prints its
    outcome on a second line, a subtest may fail more than once, but each test counts once.
    """
    result = RunResult()
    for line in text.splitlines():
        if match := RESULT_LINE.match(line) or REPORT_HEADER.match(line):
            result.failing.add(failing_id(match["name"], match["dotted"]))
        elif match := RAN_LINE.match(line):
            result.ran = int(match["count"])
        elif (match := VERDICT_LINE.match(line)) and match["counts"]:
            for pair in match["counts"].split(", "):
                key, _, value = pair.partition("=")
                result.counts[key] = int(value)
    result.reasons = failure_reasons(text)
    return result


def failure_reasons(text: str) -> dict[str, str]:
    """Map each failing test id to its last exception line, so a one-sided failure explains itself.

    With chained exceptions the last line is the outermost one, the exception Django's code saw.
    """
    reasons: dict[str, str] = {}
    for block in text.split(REPORT_SEPARATOR):
        header, _, body = block.partition("\n")
        match = REPORT_HEADER.match(header)
        exceptions = [line for line in body.splitlines() if EXCEPTION_LINE.match(line)]
        if match and exceptions:
            reasons.setdefault(failing_id(match["name"], match["dotted"]), exceptions[-1])
    return reasons


def print_table(backends: list[Backend], results: list[RunResult]) -> None:
    """Print the per-backend counts side by side, then the failures found on one side only."""
    rows = [
        ("tests run", [str(r.ran) for r in results]),
        ("failures", [str(r.counts.get("failures", 0)) for r in results]),
        ("errors", [str(r.counts.get("errors", 0)) for r in results]),
        ("skipped", [str(r.counts.get("skipped", 0)) for r in results]),
        ("expected failures", [str(r.counts.get("expected failures", 0)) for r in results]),
        ("failing test ids", [str(len(r.failing)) for r in results]),
        ("seconds", [f"{r.seconds:.0f}" for r in results]),
    ]
    print()
    print(f"{'':<20}" + "".join(f"{b.label:>10}" for b in backends))
    for title, cells in rows:
        print(f"{title:<20}" + "".join(f"{cell:>10}" for cell in cells))
    for backend, result in zip(backends, results, strict=True):
        print(f"{backend.label} engine: {backend.engine}; log: {result.log}")
    plain, pool = results
    print(f"failing with both: {len(plain.failing & pool.failing)}")
    _print_list("only failing with pool:", pool.failing - plain.failing, pool.reasons)
    _print_list("only failing with plain:", plain.failing - pool.failing, plain.reasons)


def _print_list(title: str, ids: set[str], reasons: Mapping[str, str]) -> None:
    print(f"{title} (none)" if not ids else title)
    for test in sorted(ids):
        print(f"  {test}")
        if test in reasons:
            print(f"      {reasons[test][:160]}")


def main(argv: list[str] | None = None) -> int:
    """Run both backends one after the other (they would fight over 2 cores) and compare."""
    args = parse_args(argv)
    backends = [Backend("plain", PLAIN_ENGINE), Backend("pool", args.pooled_engine)]
    version = importlib.metadata.version("Django")
    cache = cache_dir()
    tests = fetch_django_tests(version, cache)
    helpers = ensure_test_requirements(tests, cache)
    settings_folder = cache / "settings"
    env = runtests_env([settings_folder, helpers, REPO_ROOT])
    apps = [] if args.full else (args.apps or DEFAULT_APPS)
    print(f"Django {version}; apps: {' '.join(apps) or 'all (--full)'}")
    # One pair of logs per invocation, so a quick re-run never overwrites a full run's logs.
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = []
    for backend in backends:
        check_engine(backend.engine, env)
        module = write_settings(backend, settings_folder)
        command = [sys.executable, "runtests.py", f"--settings={module}", "--noinput", "-v", "2"]
        command += ["--parallel", args.parallel, *apps]
        started = time.monotonic()
        log = cache / "logs" / f"{stamp}-{backend.label}.log"
        run_backend(backend, command, tests, env, log)
        result = parse_log(log.read_text(errors="replace"))
        result.seconds, result.log = time.monotonic() - started, log
        print(f"{backend.label}: {result.ran} tests in {result.seconds:.0f} s", flush=True)
        results.append(result)
    print_table(backends, results)
    if not all(result.ran for result in results):
        print("a run ran no tests: read its log")
        return 1
    same = results[0].failing == results[1].failing
    print("same failures on both backends" if same else "failures differ between backends")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
