#!/usr/bin/env bash
# bootcheck.sh MODE IMAGE MARKER
#
# Boots IMAGE in QEMU and checks the serial log of the test boot payloads
# (fixtures/README.md): the banner of MODE's firmware must appear, then the
# line MARKER (the content of /tsmedia.marker on the medium).
#
# MODE: bios      IMAGE is a CD (ISO) booted by SeaBIOS
#       uefi      IMAGE is a CD (ISO) booted by OVMF
#       bios-hdd  IMAGE is a raw disk (USB image) booted by SeaBIOS
#       uefi-hdd  IMAGE is a raw disk (USB image) booted by OVMF
#
# BOOTCHECK_BUS (hdd modes): ide (default) attaches the disk as an IDE hard
# disk; usb attaches it as a USB stick (xHCI usb-storage), the way a
# technician's machine sees it.
#
# Fails on a timeout (BOOTCHECK_TIMEOUT seconds; default 60 for BIOS, 120
# for UEFI, which is slow under TCG on a loaded machine), when the banner
# appears twice (a reboot loop), when QEMU exits without the marker, when
# SeaBIOS finds no bootable device, or when the bootmgr stand-in reports an
# error (BOOTMGR STAND-IN ERROR: ..., quoted in the message).
# QEMU is always stopped by its PID. The serial log is kept where
# BOOTCHECK_LOG says (default: a temporary file, printed on failure).
#
# Exit status: 0 booted and printed the marker, 1 failed, 2 bad usage or
# a missing tool (the message names the Debian package).
set -euo pipefail

usage() { sed -n '2,27s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
[ $# -eq 3 ] || { usage >&2; exit 2; }
mode=$1 image=$2 marker=$3
[ -f "$image" ] || { echo "bootcheck: no such image: $image" >&2; exit 2; }

ovmf_code=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
ovmf_vars=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
command -v qemu-system-x86_64 >/dev/null ||
    { echo "bootcheck: qemu-system-x86_64 is missing (Debian package qemu-system-x86)" >&2; exit 2; }

case "$mode" in
    bios|bios-hdd) banner=TSMEDIA-BIOS-OK; timeout=${BOOTCHECK_TIMEOUT:-60} ;;
    uefi|uefi-hdd) banner=TSMEDIA-UEFI-OK; timeout=${BOOTCHECK_TIMEOUT:-120}
        for f in "$ovmf_code" "$ovmf_vars"; do
            [ -f "$f" ] || { echo "bootcheck: $f is missing (Debian package ovmf)" >&2; exit 2; }
        done ;;
    *) echo "bootcheck: unknown MODE: $mode" >&2; usage >&2; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/bootcheck.XXXXXX")
log=${BOOTCHECK_LOG:-$work/serial.log}
: >"$log"
qemu_pid=""
cleanup() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$qemu_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

args=(-machine pc -m 512 -nodefaults -vga none -display none -no-reboot -nic none
      -serial "file:$log")
qimage=${image//,/,,}    # a comma in -drive values is written twice
case "$mode" in
    bios|uefi) args+=(-drive "file=$qimage,media=cdrom,if=ide,readonly=on" -boot d) ;;
    *)
        args+=(-drive "if=none,id=disk0,file=$qimage,format=raw,snapshot=on")
        case "${BOOTCHECK_BUS:-ide}" in
            ide) args+=(-device ide-hd,drive=disk0,bus=ide.0,unit=0,bootindex=0) ;;
            usb) args+=(-device qemu-xhci,id=xhci -device usb-storage,bus=xhci.0,drive=disk0,bootindex=0) ;;
            *) echo "bootcheck: BOOTCHECK_BUS must be ide or usb" >&2; exit 2 ;;
        esac ;;
esac
case "$mode" in
    # "No bootable device" makes SeaBIOS reboot after 1 s; -no-reboot turns
    # that into QEMU exiting, so a disk that does not boot fails quickly.
    bios-hdd) args+=(-boot strict=on,reboot-timeout=1000) ;;
esac
case "$mode" in
    uefi*)
        cp "$ovmf_vars" "$work/vars.fd"
        args+=(-drive "if=pflash,format=raw,readonly=on,file=$ovmf_code"
               -drive "if=pflash,format=raw,file=$work/vars.fd") ;;
esac

qemu-system-x86_64 "${args[@]}" </dev/null >"$work/qemu.out" 2>&1 &
qemu_pid=$!

fail() {
    echo "bootcheck: FAIL ($mode, $image): $1" >&2
    echo "--- serial log ($log), last 40 lines:" >&2
    tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' | tail -n 40 >&2 || true
    if [ -s "$work/qemu.out" ]; then
        echo "--- qemu:" >&2
        tail -n 20 "$work/qemu.out" >&2
    fi
    exit 1
}

start=$(date +%s)
while :; do
    clean=$(tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g')
    if grep -q "BOOTMGR STAND-IN ERROR: " <<<"$clean"; then
        fail "the bootmgr stand-in says: $(grep -o 'BOOTMGR STAND-IN ERROR: .*' <<<"$clean" | head -n 1)"
    fi
    if grep -q "No bootable device" <<<"$clean"; then
        fail "SeaBIOS found no bootable device"
    fi
    banners=$(grep -c -- "$banner" <<<"$clean" || true)
    if [ "$banners" -gt 1 ]; then
        fail "the banner $banner appeared $banners times (the machine restarted)"
    fi
    if [ "$banners" -eq 1 ] && sed -n "/$banner/,\$p" <<<"$clean" | grep -qxF -- "$marker"; then
        echo "bootcheck: OK ($mode, $image): $banner then $marker after $(( $(date +%s) - start )) s"
        exit 0
    fi
    if ! kill -0 "$qemu_pid" 2>/dev/null; then
        wait "$qemu_pid" 2>/dev/null || true
        qemu_pid=""
        # The log may have grown between the check and the exit.
        clean=$(tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g')
        if grep -q -- "$banner" <<<"$clean" && sed -n "/$banner/,\$p" <<<"$clean" | grep -qxF -- "$marker"; then
            echo "bootcheck: OK ($mode, $image): $banner then $marker"
            exit 0
        fi
        fail "QEMU exited without printing $banner and then $marker"
    fi
    if [ $(( $(date +%s) - start )) -ge "$timeout" ]; then
        fail "no $banner followed by $marker within $timeout s"
    fi
    sleep 0.5
done
