"""One view: which process served the request, and which server connection it used."""

from __future__ import annotations

import os

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path


def whoami(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        (connection_id,) = cursor.fetchone()
    return JsonResponse({"pid": os.getpid(), "connection_id": connection_id})


urlpatterns = [path("", whoami)]
