"""What a forked child does with the connections it inherited: never touch them.

A driver that drops, garbage-collects or exits with a connection sends COM_QUIT on the
socket, which the parent shares: the parent's connection dies. So at fork, the child
points every inherited socket fd at /dev/null and runs the registered hooks (the pools
forget the parent's pools, the Django integration detaches Django's wrappers); it then
opens its own connections. See UPSTREAM-FACTS "Fork".
"""

from __future__ import annotations

import mmap
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ..connection import driver

#: Every raw connection this process opened, by weak reference (each removes itself when
#: collected). A dict of single-statement updates: ``track`` runs on borrowers' threads,
#: where an exception may land on any line and a held lock would never be released.
_connections: dict[weakref.ref[Any], None] = {}
_lock = threading.Lock()  # for registering hooks, at import
_hook_registered = False
_child_hooks: list[Callable[[], None]] = []
_owner_pid = os.getpid()
#: Incremented in every forked child: objects made before the fork know they are inherited.
generation = 0


def track(raw: Any) -> None:
    """Remember a raw connection this process opened."""
    _connections[weakref.ref(raw, _untrack)] = None


def _untrack(ref: weakref.ref[Any]) -> None:
    _connections.pop(ref, None)  # collected (maybe inside the garbage collector): no lock


def register(child_hook: Callable[[], None]) -> None:
    """Run ``child_hook`` in every forked child after the inherited sockets are neutralised."""
    global _hook_registered
    with _lock:
        if child_hook not in _child_hooks:
            _child_hooks.append(child_hook)
        if not _hook_registered:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _hook_registered = True


def _page_wiped_on_fork() -> mmap.mmap | None:
    """A memory page the kernel hands every forked child zeroed (Linux >= 4.14).

    Reading it tells a fork apart without a system call: ``os.getpid()`` costs a system
    call on every borrow and give-back (0.2 µs here, several µs on a loaded virtual
    machine). None where the kernel cannot (``getpid`` then).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        page.madvise(getattr(mmap, "MADV_WIPEONFORK", _MADV_WIPEONFORK))
    except (AttributeError, OSError, ValueError):
        return None
    page[0] = 1
    return page


_MADV_WIPEONFORK = 18  # linux/mman.h; Python's mmap module does not name it before 3.14
_fork_page = _page_wiped_on_fork()


def forked() -> bool:
    """Whether this process was forked since it last handled a fork, hooks or not."""
    page = _fork_page
    if page is not None:
        return page[0] == 0
    return os.getpid() != _owner_pid


class _PidCheck:
    """``not_forked``'s stand-in where no page is wiped on fork: asks ``getpid()``."""

    def __getitem__(self, index: int) -> int:
        return int(not forked())


#: ``not_forked[0]`` is 0 once this process was forked and has not handled it yet: the
#: same answer as ``not forked()``, read without a Python call on Linux (the borrow and
#: the give-back read it on every request).
not_forked: Any = _fork_page if _fork_page is not None else _PidCheck()


def check_pid() -> None:
    """Fallback for forks that bypassed ``os.fork`` hooks: act on the first call in the child."""
    if forked():
        _after_fork_in_child()


def _after_fork_in_child() -> None:
    global _lock, _owner_pid, generation
    _lock = threading.Lock()  # the parent may have held it while forking
    _owner_pid = os.getpid()
    if _fork_page is not None:
        _fork_page[0] = 1  # handled: the next fork zeroes it again
    generation += 1
    _neutralise_inherited_sockets()
    for hook in list(_child_hooks):
        hook()


def _neutralise_inherited_sockets() -> None:
    # A parent's pooled handle collected here does not give its connection back: the pool
    # it came from knows its owner's pid (``giving_back.close_handle``).
    inherited = [raw for raw in (ref() for ref in list(_connections)) if raw is not None]
    _connections.clear()
    if not inherited:
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for raw in inherited:
            fd = driver.socket_fd(raw)
            if fd is not None and fd != devnull:
                os.dup2(devnull, fd)
    finally:
        os.close(devnull)
