"""The pool core: borrowing, giving back, resetting, forks, hosts, stats.

Imports nothing from Django (a test checks it): everything here works on DB-API
connections, SQLAlchemy's pool and the client library. ``integration`` wires it to Django.
"""
