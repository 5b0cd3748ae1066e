"""What the pool knows about a pooled server connection's session, learned from its cursors.

Each server connection carries one ``SessionNotes`` (in its record's ``info``) for as long
as it lives. The cursors handed out note, per statement, whether the borrower may have
changed session state (the server's reply flag where the client library can read it, and
``statements.classify`` for what the server never flags), and which of Django's setup
statements the session already has, so that ``init_connection_state`` sends nothing the
session already has. The give-back (``reset.py``) acts on the notes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .driver import FATAL_ERROR_CODES, is_unbuffered
from .native import SERVER_SESSION_STATE_CHANGED
from .statements import classify, remembered

StatusReader = Callable[[], "int | None"]


class SessionNotes:
    """One server connection's session, as far as the pool can tell without asking."""

    __slots__ = (
        "setup", "changed", "in_doubt", "failed_with", "read_status", "tracked", "handle",
        "can_reset", "error_code", "cursor_class", "session_class", "django_setup",
        "charset", "unusable", "stale", "clean_status", "setup_matched",
    )  # fmt: skip

    def __init__(
        self,
        read_status: StatusReader | None = None,
        tracked: bool = False,
        handle: Any = None,
        can_reset: bool = False,
        error_code: Callable[[], int] = lambda: 0,
        cursor_class: Any = None,
        django_setup: frozenset[tuple[str, str]] = frozenset(),
        charset: str | None = None,
        twin: bool = False,
    ) -> None:
        #: Django's setup values the session has (``statements.SETUP_STATEMENTS`` names).
        #: Emptied through ``forget_setup`` only.
        self.setup: dict[str, str] = {}
        #: The last setup statement's values (``Statement.setup``, one object per text)
        #: found to be Django's and all in ``setup``: the same statement again is skipped
        #: on one identity test. None whenever ``setup`` is emptied.
        self.setup_matched: dict[str, str] | None = None
        #: The current borrower may have changed session state (variables, locks, ...).
        self.changed = False
        #: The borrower did something whose effect nobody can see (a raw protocol call, a
        #: streamed cursor): unread replies, transaction and session are all unknown.
        self.in_doubt = False
        #: The code of a fatal error a borrower's statement got (2006, 2013, ...).
        self.failed_with = 0
        #: Reads the status flags of the last reply without a round trip; None if the
        #: client library cannot.
        self.read_status = read_status
        #: The server flags session changes in its replies (session_track_state_change).
        self.tracked = tracked
        #: The C handle (mysqlclient) for calls the driver lacks, or None.
        self.handle = handle
        #: COM_RESET_CONNECTION can be sent.
        self.can_reset = can_reset
        #: Reads the error code of the connection's last call (while it is open).
        self.error_code = error_code
        #: The connection's own cursor class (``cursor()`` without arguments makes one).
        self.cursor_class = cursor_class
        #: That class with the notes kept (``session_cursor_class``), made once per
        #: connection for the borrow's common call; None when such cursors cannot be
        #: wrapped (not a class) or stream their rows (the session is then in doubt).
        self.session_class: type | None = None
        #: The setup assignments accepted as Django's (``targets.django_setup``): a setup
        #: statement with any other value is a borrower's change like any other.
        self.django_setup = django_setup
        #: The client character set the connection was made with (what a reset restores).
        self.charset = charset
        #: Why the connection cannot be made clean again (a borrower changed its user):
        #: the give-back discards it.
        self.unusable = ""
        if isinstance(cursor_class, type) and not is_unbuffered(cursor_class):
            self.session_class = session_cursor_class(cursor_class)
        #: The status flags of the session clean (``reset.is_clean``): no transaction, no
        #: unread result, autocommit as created; -1, never matched, until it is known.
        self.clean_status = -1
        #: What the session's handles and cursors note once their borrow has ended
        #: (``handle._cut_off``): the same cursor class, and notes nobody reads.
        self.stale: SessionNotes = (
            self if twin else SessionNotes(cursor_class=cursor_class, twin=True)
        )

    def forget_setup(self) -> None:
        """The session's setup values are unknown (until the server has answered)."""
        self.setup_matched = None
        self.setup.clear()


class SessionCursorMixin:
    """Put before a driver's cursor class: notes what each statement does to the session.

    A subclass rather than a proxy, so that every other cursor call (fetchone, rowcount,
    close, ...) costs what it costs on the driver's own cursor, and ``isinstance`` checks
    against the driver's classes keep working.

    Its ``connection`` is the borrower's handle (as a DB-API cursor's is the connection
    that made it), through which it reaches the driver connection (``_raw``) and the
    session's notes (``_notes``): when the borrow ends the handle swaps both for a
    closed stand-in and notes nobody reads, which cuts off every cursor it handed out
    without a list of them (``handle._cut_off``).
    """

    connection: Any
    #: Whether this cursor reached the driver (an execute that was not skipped, or more).
    _mysqlpool_used = False
    #: The driver's cursor class this one puts itself before (``session_cursor_class``):
    #: its ``execute``, looked up on each call, is what ``super().execute`` finds.
    _driver_class: Any  # a driver cursor class (mysqlclient and PyMySQL ship no stubs)

    def _to_driver(self, notes: SessionNotes, call: Any, *args: Any) -> Any:
        """Run a driver call; note for the give-back what a failure may have left.

        The error code of the connection does not survive until then: closing the cursor
        (``next_result()``) clears it, and a lost connection would go back to the pool.
        """
        self._mysqlpool_used = True
        try:
            return call(*args)
        except BaseException as error:
            _note_failure(notes, error)
            raise

    def execute(self, query: Any, args: Any = None) -> Any:
        handle = self.connection
        if handle is None:  # closed: the driver's own "cursor closed"
            return super().execute(query, args)  # type: ignore[misc]
        notes = handle._notes
        try:
            statement = remembered.get(query)  # what classify() would return, without a call
        except TypeError:  # not hashable (a bytearray)
            statement = None
        if statement is None:
            statement = classify(query)
        setup = statement.setup
        if setup is not None and args is None:
            if setup is notes.setup_matched:  # the session has exactly this: skip it
                self._executed = query  # what "ran", for Django's debug cursor
                return 0
            return self._setup(notes, setup, query)
        # ``_to_driver`` and ``_note_reply`` inline: two calls less on every statement of
        # every request.
        if statement.may_change:
            notes.changed = True  # before the call: an interrupted call may still have run
        self._mysqlpool_used = True
        try:
            # super().execute(), without making a ``super`` object on every statement
            result = self._driver_class.execute(self, query, args)
        except BaseException as error:  # a zero-cost try: the except runs only on failure
            _note_failure(notes, error)
            raise
        read_status = notes.read_status
        if notes.tracked and not notes.changed and read_status is not None:
            status = read_status()  # None after rows with PyMySQL: the text decided
            if status is not None and status & SERVER_SESSION_STATE_CHANGED:
                notes.changed = True
        return result

    def _setup(self, notes: SessionNotes, setup: dict[str, str], query: Any) -> Any:
        """One of Django's setup statements (``init_connection_state``): sent only if the
        session does not have it yet."""
        if not setup.items() <= notes.django_setup:
            # Django's statement with another value (SET SQL_AUTO_IS_NULL = 1, another
            # isolation level): the borrower's own change, undone at the give-back.
            notes.changed = True  # before the call: an interrupted call may still have run
            return self._to_driver(notes, super().execute, query)  # type: ignore[misc]
        known = notes.setup
        if setup.items() <= known.items():
            # The session already has exactly this: nothing to send. What was "executed"
            # is still this text, for Django's debug cursor (the toolbar's SQL panel).
            self._executed = query
            notes.setup_matched = setup
            return 0
        notes.forget_setup()  # unknown until the server has answered
        result = self._to_driver(notes, super().execute, query)  # type: ignore[misc]
        known.update(setup)
        notes.setup_matched = setup
        return result

    def executemany(self, query: Any, args: Any) -> Any:
        handle = self.connection
        if handle is None:
            return super().executemany(query, args)  # type: ignore[misc]
        notes = handle._notes
        if classify(query).may_change:
            notes.changed = True  # before the call: an interrupted call may still have run
        result = self._to_driver(notes, super().executemany, query, args)  # type: ignore[misc]
        _note_reply(notes)
        return result

    def callproc(self, procname: Any, args: Any = ()) -> Any:
        handle = self.connection
        if handle is None:
            return super().callproc(procname, args)  # type: ignore[misc]
        notes = handle._notes
        notes.changed = True  # a procedure may do anything to the session
        return self._to_driver(notes, super().callproc, procname, args)  # type: ignore[misc]

    def _get_db(self) -> Any:
        """The driver connection the cursor runs on: its handle's (``handle.py``), which
        sees what user code does through it, and is a closed stand-in once given back."""
        handle = self.connection
        if handle is None:
            return super()._get_db()  # type: ignore[misc]  # the driver's "cursor closed"
        return handle._raw

    def close(self) -> None:
        if self._mysqlpool_used:
            super().close()  # type: ignore[misc]
        else:
            # Nothing was sent, so nothing is left to read: skip the driver's drain, a C
            # call that releases the GIL (the skipped setup's cursor is closed every borrow).
            self.connection = None


def _note_reply(notes: SessionNotes) -> None:
    """Note a session change the server flagged in the reply just read (session tracking)."""
    read_status = notes.read_status
    if notes.tracked and not notes.changed and read_status is not None:
        # None: this reply's flags are unknown (PyMySQL after rows): the text decides.
        status = read_status()
        if status is not None and status & SERVER_SESSION_STATE_CHANGED:
            notes.changed = True


def _note_failure(notes: SessionNotes, error: BaseException) -> None:
    """Note for the give-back what a failed driver call may have left on the connection.

    * An error that lost the connection: its code, and the connection is discarded (the
      code does not survive until then: closing the cursor clears it).
    * The server's error reply to the statement (read whole): the statement may have
      changed the session before it failed (a trigger, a stored function), and an error
      reply carries no status flags to tell: the session counts as changed.
    * Anything else (an exception raised from a signal handler, KeyboardInterrupt, a
      gevent timeout, a Celery time limit): the call stopped half-way, with a reply
      possibly unread. libmariadb refuses any command out of turn (2014), so draining
      and resetting either works or fails safely; PyMySQL reads its replies in Python
      and cannot tell where it stopped, so its connection is discarded.
    """
    code = error.args[0] if isinstance(error, Exception) and error.args else None
    if code in FATAL_ERROR_CODES:
        notes.failed_with = code
    elif isinstance(code, int) and not 2000 <= code < 3000:  # the server's error reply
        notes.changed = True
    elif notes.handle is not None:
        notes.in_doubt = True
    else:
        notes.unusable = f"a driver call was interrupted ({type(error).__name__})"
        notes.changed = True  # off the give-back's fast path, which looks at this only


_session_classes: dict[type, type] = {}


def session_cursor_class(cursor_class: type) -> type:
    """``cursor_class`` with ``SessionCursorMixin`` in front, made once per class."""
    session_class = _session_classes.get(cursor_class)
    if session_class is None:
        # Same name, our module: tracebacks show both the driver's class and who wraps it.
        namespace = {"__module__": __name__, "_driver_class": cursor_class}
        session_class = type(cursor_class.__name__, (SessionCursorMixin, cursor_class), namespace)
        _session_classes[cursor_class] = session_class
    return session_class


def session_cursor(cursor_class: type, handle: Any) -> Any:
    """A cursor of ``cursor_class`` that keeps the notes of ``handle``'s session."""
    return session_cursor_class(cursor_class)(handle)


def detach(cursor: Any, closed_connection: Any) -> None:
    """Cut a cursor off its borrow: from now on it fails as on a closed connection.

    A cursor already closed keeps its closed state (the driver's "cursor closed"), as a
    cursor closed before its connection does with the plain backend. A session cursor
    reaches the server through its handle, cut off already: only a streamed result it
    holds is left to cut off.
    """
    result = getattr(cursor, "_result", None)
    if getattr(cursor, "connection", None) is None and result is None:
        return  # closed (as Django closes its cursors): it already fails as it should
    if cursor.connection is not None and not isinstance(cursor, SessionCursorMixin):
        cursor.connection = closed_connection
    if result is not None:
        # A streamed result reads from the socket, which now serves another borrower.
        if hasattr(result, "connection"):  # PyMySQL's reads through its connection
            result.connection = closed_connection
        else:
            cursor._result = closed_connection
