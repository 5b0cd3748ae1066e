"""Where settings name the debug toolbar panel: ``django_mysqlpool.debug_toolbar.PoolPanel``.

``DEBUG_TOOLBAR_PANELS = [..., "django_mysqlpool.debug_toolbar.PoolPanel"]``; the
implementation is ``operations/debug_toolbar.py``.
"""

from .operations.debug_toolbar import PoolPanel

__all__ = ["PoolPanel"]
