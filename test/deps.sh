#!/usr/bin/env bash
# Install what `make demo`, `make test` and `make bench` need and this machine lacks: the
# PostgreSQL 15 server and headers, pgTAP and pg_prove (Debian packages). Idempotent; a
# machine that has everything is left alone.
set -euo pipefail

packages=(postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl)
missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "kpi: missing Debian packages: ${missing[*]}" >&2
	echo "kpi: run as root, or install them with: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "kpi: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The server package would start a system cluster; we never use one, so keep it off.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}"
