#!/usr/bin/env bash
# make bench compares with Django's own PostgreSQL pool on a throwaway cluster
# (benchmarks/pgcluster.py). Install Debian's PostgreSQL when its binaries are missing and
# we can (root, apt-get); otherwise say so in one line. Never fails: without PostgreSQL the
# benchmark skips the reference row.
set -uo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
    || { command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; }; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing PostgreSQL for the benchmark's reference row (apt-get)..."
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null; then
        exit 0
    fi
    echo "apt-get could not install postgresql: the benchmark skips the PostgreSQL row." >&2
    exit 0
fi
echo "No PostgreSQL binaries (Debian/Ubuntu: apt-get install postgresql): the benchmark skips the PostgreSQL row." >&2
exit 0
