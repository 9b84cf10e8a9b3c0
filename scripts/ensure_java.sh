#!/usr/bin/env bash
# Make sure a Java runtime exists for the Spark ingest engine (PySpark starts a JVM);
# install Debian's package if not. The tests start their own local Spark session.
set -euo pipefail
if command -v java >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Java not found: install it (Debian: sudo apt-get install default-jre-headless)" >&2
    exit 1
fi
echo "Installing a Java runtime (apt-get install default-jre-headless)..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null
