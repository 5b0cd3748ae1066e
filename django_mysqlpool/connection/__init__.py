"""One server session: what the client library can do, how the session's state is known
and reset, the borrower's handle, and whether the connection is still alive.

Imports nothing from Django and nothing from ``pool`` (a test checks both): everything
here works on one DB-API connection of mysqlclient or PyMySQL.
"""
