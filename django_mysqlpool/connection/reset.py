"""What a connection goes through between two borrowers.

The next borrower finds the connection as a new one after connecting and Django's setup:
no open transaction, unread result, autocommit change, and (in the default ``"auto"``
mode) no session state the last borrower left (variables, locks, temporary tables,
prepared statements, HANDLERs, session variables, another current database). Only what
the borrower changed is reset, as HikariCP does with its "dirty bits": a borrower that
changed nothing costs no round trip (the status flags of the last reply, read without
asking the server, say whether a transaction is open; ``session.SessionNotes`` says
whether the session changed). A changed session gets COM_RESET_CONNECTION, then what
connecting had set up (``SessionRecipe``) in one more round trip.

``"transaction"`` keeps session state from borrower to borrower (persistent-connection
semantics), ``"session"`` resets the session on every give-back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

from . import driver
from .native import SERVER_MORE_RESULTS_EXIST, SERVER_STATUS_AUTOCOMMIT, SERVER_STATUS_IN_TRANS
from .session import SessionNotes
from .statements import SETUP_STATEMENTS

AUTO = "auto"
TRANSACTION = "transaction"
SESSION = "session"
MODES = (AUTO, TRANSACTION, SESSION)

# ``record.info`` keys, kept for as long as the server connection lives:
#: the autocommit mode the connection was created with, which every borrower finds;
AUTOCOMMIT = "autocommit"
#: its ``session.SessionNotes``.
NOTES = "session"

#: Status flags of a clean connection: no transaction, no unread result, and autocommit as
#: it was created (``_CLEAN[initial autocommit]``; None, unknown, never matches).
_CLEAN_MASK = SERVER_STATUS_IN_TRANS | SERVER_MORE_RESULTS_EXIST | SERVER_STATUS_AUTOCOMMIT
_CLEAN: dict[Any, int] = {True: SERVER_STATUS_AUTOCOMMIT, False: 0, None: -1}


class UnusableConnection(Exception):
    """The connection cannot be trusted with another borrower; the pool discards it."""

    def __init__(self, reason: str, error_code: int = 0, lost: bool = False) -> None:
        super().__init__(reason)
        self.error_code = error_code  # the driver's, when its last call failed
        #: The server or the network stopped answering (not a borrower's doing).
        self.lost = lost or error_code in driver.LOST_CONNECTION_CODES


@dataclass(frozen=True)
class SessionRecipe:
    """What connecting set up in a session, to set it up again after a reset.

    COM_RESET_CONNECTION keeps the current database (even one a borrower chose with USE)
    and the character set of the handshake, and forgets everything else: ``init_command``,
    the ``sql_mode`` and ``collation`` connect arguments, session tracking, Django's setup.
    """

    statements: tuple[str, ...]
    multi_statements: bool
    #: How to give the session its role back (``SET ROLE ...``: COM_RESET_CONNECTION
    #: keeps the role a borrower took), once the first connection has said which it had.
    role_statement: str | None = None

    @classmethod
    def for_target(cls, database: ModuleType, connect_kwargs: Mapping[str, Any]) -> SessionRecipe:
        statements = []
        name = connect_kwargs.get("database") or connect_kwargs.get("db")
        if name:
            statements.append("USE `{}`".format(str(name).replace("`", "``")))
        if connect_kwargs.get("init_command"):
            statements.append(str(connect_kwargs["init_command"]))
        charset, collation = connect_kwargs.get("charset"), connect_kwargs.get("collation")
        if charset and collation:
            statements.append(f"SET NAMES {charset} COLLATE {collation}")
        if connect_kwargs.get("sql_mode"):
            statements.append("SET SESSION sql_mode = '{}'".format(
                str(connect_kwargs["sql_mode"]).replace("'", "''")
            ))  # fmt: skip
        return cls(tuple(statements), driver.allows_multi_statements(database, connect_kwargs))

    def with_role_of(self, raw: Any) -> SessionRecipe:
        """This recipe, restoring the role ``raw`` (a new connection) has, when the server
        has roles; COM_RESET_CONNECTION keeps a role taken with SET ROLE, even in a
        procedure or a prepared statement, where no text shows it."""
        try:
            role = driver.current_role(raw)
        except Exception:  # a server without roles (MySQL 5.7): nothing to restore
            return self
        return replace(self, role_statement=role)

    def reset(self, raw: Any, notes: SessionNotes) -> None:
        """Clear the session and set it up again, Django's last setup included."""
        if not notes.can_reset:
            raise UnusableConnection("the client library cannot send COM_RESET_CONNECTION")
        driver.reset_session(raw, notes.handle)
        if notes.charset is not None and raw.character_set_name() != notes.charset:
            # SET NAMES or set_character_set() also changed the client's own character set
            # (libmariadb follows the server's notice), which the reset leaves as it was.
            raw.set_character_set(notes.charset)
        again = list(self.statements)
        if self.role_statement is not None:
            again.append(self.role_statement)
        if notes.tracked:
            again.append(driver.TRACK_SESSION_STATE)
        setup = dict(notes.setup)
        notes.forget_setup()  # unknown until the server has answered
        again.extend(SETUP_STATEMENTS[name].format(value) for name, value in setup.items())
        if again:
            driver.run_statements(raw, again, self.multi_statements)
        notes.setup.update(setup)


def remember_initial_state(raw: Any, info: dict[str, Any]) -> None:
    """Note, for a new connection, the state every borrower must find it in."""
    initial = info[AUTOCOMMIT] = raw.get_autocommit()
    notes = info.get(NOTES)
    if notes is not None:
        notes.clean_status = _CLEAN[initial]


def is_clean(raw: Any, notes: SessionNotes) -> bool:
    """The common give-back, in one test: nothing seen that changed the session, and the
    status flags say no transaction, no unread result and the autocommit mode the
    connection was created in. ``reset_for_next_borrower``'s steps conclude the same,
    slower; False means only that they must run.
    """
    read_status = notes.read_status
    if (
        read_status is None
        or notes.failed_with
        or notes.changed
        or notes.in_doubt
        or not raw.open
        or notes.error_code() in driver.FATAL_ERROR_CODES
    ):
        return False
    status = read_status()
    return status is not None and status & _CLEAN_MASK == notes.clean_status


def reset_for_next_borrower(
    raw: Any,
    info: dict[str, Any],
    mode: str,
    recipe: SessionRecipe,
    has_news: Any = None,
) -> None:
    """Bring the connection back to a clean state; raise if it must be discarded.

    ``has_news`` polls the socket (``liveness``): with every reply read it must be quiet,
    else the connection was lost while borrowed (its error code may have been cleared by
    a later call, such as closing the cursor).
    """
    notes: SessionNotes = info[NOTES]
    read_status = notes.read_status
    if has_news is None and mode != SESSION and is_clean(raw, notes):
        return
    code = notes.failed_with or (notes.error_code() if raw.open else 0)
    notes.failed_with = 0
    if code in driver.FATAL_ERROR_CODES:
        raise UnusableConnection(f"its last call failed with error {code}", code)
    if notes.unusable:
        raise UnusableConnection(notes.unusable)
    if not raw.open:
        raise UnusableConnection("the driver closed it")
    # A streamed result or a raw protocol call may have left a reply unread, which only a
    # round trip reveals (2014 on ROLLBACK or reset, then the connection is discarded).
    in_doubt, changed = notes.in_doubt, notes.changed or notes.in_doubt
    status = read_status() if read_status is not None else None
    if in_doubt or status is None or status & SERVER_MORE_RESULTS_EXIST:
        driver.drain_results(raw)
        status = read_status() if read_status is not None else None
    elif has_news is not None and has_news():
        raise UnusableConnection("the server closed it or stopped answering", lost=True)
    if mode == SESSION or (changed and mode == AUTO):
        recipe.reset(raw, notes)
        status = None  # replies came since
    else:
        if changed:
            notes.forget_setup()  # the borrower may have changed what Django's setup set
        if status is None:  # no status flags: trust autocommit, and the texts for the rest
            open_transaction = in_doubt or changed or not raw.get_autocommit()
        else:
            open_transaction = in_doubt or bool(status & SERVER_STATUS_IN_TRANS)
        if open_transaction:
            raw.rollback()
            status = None
    notes.in_doubt = notes.changed = False
    initial = info.get(AUTOCOMMIT)
    # What get_autocommit() reads too (both drivers), without the call.
    autocommit = raw.get_autocommit() if status is None else status & SERVER_STATUS_AUTOCOMMIT
    if initial is not None and bool(autocommit) != initial:
        raw.autocommit(initial)  # after the rollback: turning it on would commit
