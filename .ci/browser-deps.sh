#!/usr/bin/env bash
# make browser-test drives headless Chromium through chromedriver (Debian's packages, which
# match each other's version). Install them when missing (Debian/Ubuntu, as root); elsewhere
# say what to install and exit 0: the browser tests then skip, naming what is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if bash "$(dirname "$0")/apt-install.sh" \
    "make browser-test renders the toolbar panel in headless Chromium" \
    chromium chromium-driver; then
    exit 0
fi
echo "The browser tests need Chromium and chromedriver at /usr/bin (they skip without them)." >&2
echo "Debian/Ubuntu: sudo apt-get install chromium chromium-driver" >&2
echo "Fedora/RHEL:   sudo dnf install chromium chromedriver" >&2
exit 0
