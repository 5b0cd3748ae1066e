"""The WSGI application; importing it also opens a connection and keeps it.

Under ``gunicorn --preload`` this import runs in the master before it forks the workers,
so the master holds a server connection the workers inherit: the case where a careless
child kills its parent's connection. DEMO_MASTER_ID_FILE, if set, receives its id.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demosite.settings")
application = get_wsgi_application()


def hold_a_connection() -> int:
    """One query through Django's connection, left open (no close)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        (connection_id,) = cursor.fetchone()
    return int(connection_id)


master_connection_id = hold_a_connection()
if os.environ.get("DEMO_MASTER_ID_FILE"):
    with open(os.environ["DEMO_MASTER_ID_FILE"], "w") as id_file:
        id_file.write(f"{master_connection_id}\n")
