#!/usr/bin/env bash
# mysqlclient has no Linux wheel: it compiles against the MySQL/MariaDB client headers,
# found through pkg-config. Install them when missing (Debian/Ubuntu, as root).
set -euo pipefail
if command -v pkg-config >/dev/null 2>&1 \
    && { pkg-config --exists mysqlclient || pkg-config --exists libmariadb; }; then
    exit 0
fi
if bash "$(dirname "$0")/apt-install.sh" \
    "mysqlclient has no Linux wheel: pip compiles it against these client headers" \
    default-libmysqlclient-dev pkg-config build-essential; then
    exit 0
fi
echo "mysqlclient needs pkg-config and the MySQL/MariaDB client headers." >&2
echo "Debian/Ubuntu: sudo apt-get install default-libmysqlclient-dev pkg-config build-essential" >&2
echo "Fedora/RHEL:   sudo dnf install mariadb-connector-c-devel pkgconf gcc" >&2
echo "macOS:         brew install mysql-client pkg-config" >&2
exit 1
