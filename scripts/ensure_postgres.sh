#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl) are installed, so
# that tests/pg_server.py can start a throwaway cluster. Installs the Debian
# package `postgresql` when initdb is missing; does nothing otherwise.
# Needs root (or sudo) and network access to the Debian mirrors only then.
set -euo pipefail

has_initdb() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' > /dev/null
}

if has_initdb; then
    echo "ensure_postgres: found $(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1)"
    exit 0
fi

if ! command -v apt-get > /dev/null; then
    echo "ensure_postgres: initdb missing and apt-get unavailable" >&2
    exit 1
fi

SUDO=''
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo > /dev/null; then
        SUDO='sudo'
    else
        echo "ensure_postgres: initdb missing; run as root to install it" >&2
        exit 1
    fi
fi

echo "ensure_postgres: installing the Debian package postgresql"
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql

if ! has_initdb; then
    echo "ensure_postgres: postgresql installed but initdb not found" >&2
    exit 1
fi
echo "ensure_postgres: found $(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1)"
