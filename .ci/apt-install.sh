#!/usr/bin/env bash
# Installs Debian packages for a make target, saying first which, why and how to skip:
#   bash .ci/apt-install.sh "<why>" package...
# Runs only as root with apt-get; MYSQLPOOL_NO_APT=1 skips it (exit 1: the caller says
# what to install by hand). Used by system-deps.sh and browser-deps.sh.
set -euo pipefail
why="$1"
shift
if [ "${MYSQLPOOL_NO_APT:-}" = 1 ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    exit 1
fi
cat >&2 <<NOTICE
django-mysqlpool: installing Debian packages with apt-get, as root:
    $*
  why: $why
  (run with MYSQLPOOL_NO_APT=1 to skip this and install them yourself)
NOTICE
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
echo "django-mysqlpool: installed $*" >&2
