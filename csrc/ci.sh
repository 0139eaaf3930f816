#!/usr/bin/env bash
# C kernel CI: install the cross toolchains and emulators (apt, idempotent), then run every C test.
#   bash csrc/ci.sh                 install what is missing, then test-host, test-qemu, test-aarch64, size
#   bash csrc/ci.sh --install-only  only the apt packages (tests/setup.sh calls this)
# Each step prints "N passed, N failed" (summed over its test binaries); the last line sums them. Exit status 1
# on any failure.
set -uo pipefail
cd "$(dirname "$0")"

PACKAGES="build-essential python3 gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
          gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user gcc-riscv64-unknown-elf"

install() {
    local missing=""
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "csrc/ci.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
}

install || { echo "csrc/ci.sh: apt-get install failed"; echo "0 passed, 1 failed"; exit 1; }
[ "${1:-}" = "--install-only" ] && exit 0

passed=0
failed=0
for target in test-host test-qemu test-aarch64 size; do
    start=$(date +%s)
    out=$(make --no-print-directory -s "$target" 2>&1)
    rc=$?
    echo "$out" | tail -n 40
    lines=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$')
    if [ -n "$lines" ]; then # test-host runs several binaries: sum their lines
        p=0
        f=0
        while read -r np _ nf _; do
            p=$((p + np))
            f=$((f + nf))
        done <<< "$lines"
    else
        p=$([ $rc -eq 0 ] && echo 1 || echo 0)
        f=$([ $rc -eq 0 ] && echo 0 || echo 1)
    fi
    [ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
    echo "csrc $target: $p passed, $f failed ($(( $(date +%s) - start )) s)"
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
