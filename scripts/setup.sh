#!/bin/sh
# Prepares this machine for `make demo` and `make test`: the Debian packages the tests drive for real
# (OpenSSH's sshd and client, sudo, git, iptables, curl, Chromium and its driver for the web-page
# tests) and a project virtualenv in .venv. Packages already installed are left alone.
# Needs root or passwordless sudo because it installs packages; says so and stops otherwise.
set -eu

cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "setup: this needs root or passwordless sudo (it installs openssh-server and other packages," >&2
    echo "       and the tests create and remove a local user). Run it as root, or configure sudo." >&2
    exit 2
fi

PACKAGES="openssh-server openssh-client sudo git curl iproute2 iptables procps passwd python3 python3-venv systemd"
PACKAGES="$PACKAGES chromium chromium-driver"  # the /docs page's tests drive a real headless Chromium
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# The packaged sshd service is not needed: the demo and the tests start their own on free loopback ports.
$SUDO mkdir -p /run/sshd

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,pandas,digitalocean]'
# An editable install runs from src/, which pip does not byte-compile: without .pyc files (or with
# PYTHONDONTWRITEBYTECODE set) every sshpoolctl process would compile its modules again, ~10 ms a call.
.venv/bin/python -m compileall -q src/sshpool >/dev/null
if [ "${1:-}" = "--with-bench" ]; then
    # The bench's peers (paramiko, Fabric, parallel-ssh), matplotlib and Selenium get a virtualenv of their own
    # (`make bench`, and `make test`, whose smoke run of the bench uses it).
    if [ ! -x bench/.venv/bin/python ]; then
        "$PY" -m venv bench/.venv
    fi
    bench/.venv/bin/python -m pip install -q -e . -r bench/requirements.txt
    echo "setup: bench/.venv has the bench's peers"
fi
echo "setup: ready (.venv with sshpool and its test tools; sshd at $(command -v sshd || echo /usr/sbin/sshd))"
