#!/usr/bin/env bash
# Make sure a Chromium browser exists for the page checks; install Debian's package if not.
# The tests drive it headless through Playwright (which is told to use this binary and
# never downloads a browser of its own).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Chromium not found: install it (Debian: sudo apt-get install chromium)" >&2
    exit 1
fi
echo "Installing Chromium (apt-get install chromium)..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
