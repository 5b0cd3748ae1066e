"""``auto_close_db``: give this thread's database connections back when work finishes.

Threads and tasks outside Django's request cycle never see ``request_finished``, so the
connections they open would stay borrowed until the thread dies. As 0.2.1's decorator, it
also works bare (``@auto_close_db``), and now with coroutines and as a context manager.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction

F = TypeVar("F", bound=Callable[..., Any])


def close_opened_connections() -> None:
    """Close (give back) only the connections this thread actually opened."""
    from django.db import connections

    for wrapper in connections.all(initialized_only=True):
        wrapper.close()


class ClosingConnections:
    """Context manager and decorator; see ``auto_close_db``."""

    def __enter__(self) -> ClosingConnections:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        close_opened_connections()

    async def __aenter__(self) -> ClosingConnections:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await _close_in_sync_thread()

    def __call__(self, func: F) -> F:
        if iscoroutinefunction(func):  # asgiref's also knows markcoroutinefunction()

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await func(*args, **kwargs)
                finally:
                    await _close_in_sync_thread()

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            finally:
                close_opened_connections()

        return wrapper  # type: ignore[return-value]


async def _close_in_sync_thread() -> None:
    """Async code reaches the ORM through ``sync_to_async``'s thread: close there."""
    from asgiref.sync import sync_to_async

    await sync_to_async(close_opened_connections)()


@overload
def auto_close_db(func: F) -> F: ...
@overload
def auto_close_db(func: None = None) -> ClosingConnections: ...
def auto_close_db(func: F | None = None) -> F | ClosingConnections:
    """Give back the connections opened inside ``func`` (sync or async) or a ``with`` block.

    Usable as ``@auto_close_db``, ``@auto_close_db()``, ``with auto_close_db():`` and
    ``async with auto_close_db():``. Exceptions pass through unchanged.
    """
    closing = ClosingConnections()
    return closing if func is None else closing(func)
