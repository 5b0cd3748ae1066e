"""The README's read-replica recipe: writes (and migrations) to "primary", reads to "replica"."""

from __future__ import annotations

from typing import Any


class PrimaryReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str:
        return "replica"

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "primary"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one dataset, replicated

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == "primary"  # the replica gets the tables through replication
