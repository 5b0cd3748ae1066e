"""``manage.py mysqlpool status [--database ALIAS] [--json] [--processes N]``.

Exits 1, after the whole report, when an alias has invalid pool settings or cannot reach
its server: a deploy step can run it as a check.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...operations import status


class Command(BaseCommand):
    help = (
        "Show each pooled alias: its pool settings, this process's pool, the server's "
        "connections and limits, and whether N processes fit in max_connections."
    )
    requires_system_checks: list[str] = []  # a status command must work when checks fail
    problems: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status"], help="what to show")
        parser.add_argument(
            "--database",
            action="append",
            dest="databases",
            metavar="ALIAS",
            help="only this alias (may be repeated; default: every pooled alias)",
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="how many processes (workers x hosts) will run with these settings",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["processes"] < 1:
            raise CommandError("--processes must be 1 or more (workers x hosts).")
        wanted = options["databases"]
        if wanted:
            from django.conf import settings

            unknown = [alias for alias in wanted if alias not in settings.DATABASES]
            if unknown:
                raise CommandError(
                    f"--database {unknown[0]!r} is not in DATABASES "
                    f"(known: {', '.join(settings.DATABASES)})."
                )
        data = status.report(wanted, options["processes"])
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str))
        else:
            self.stdout.write(status.as_text(data))
        self.problems = data["problems"]

    def run_from_argv(self, argv: list[str]) -> None:
        """The exit status is the shell's: ``call_command`` returns the report as it is
        (``problems`` in ``--json``), as it did before the status became a deploy check."""
        super().run_from_argv(argv)
        if self.problems:
            self.stderr.write(f"mysqlpool status: {'; '.join(self.problems)}.")
            sys.exit(1)
