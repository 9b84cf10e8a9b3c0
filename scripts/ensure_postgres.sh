#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl) exist; install Debian's package if not.
# The tests start and stop their own throwaway server on 127.0.0.1.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL server binaries not found: install them (Debian: sudo apt-get install postgresql)" >&2
    exit 1
fi
echo "Installing PostgreSQL server binaries (apt-get install postgresql)..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
