#!/usr/bin/env bash
# Installs the Debian packages tsmedia's build, demo and tests need, when
# they are missing. Safe to run again: it installs nothing when all are there.
set -euo pipefail

packages=(
    # build: wimlib is compiled from source by wimlib-sys (bindgen needs libclang)
    gcc make pkg-config libclang-dev
    # fixtures: stand-in WinPE boot files, WIMs and certificates
    grub-pc-bin grub-efi-amd64-bin grub-common nasm mtools dosfstools wimtools openssl
    # fixtures: stand-in boot files signed with test keys (Authenticode)
    osslsigncode
    # independent checkers used by the tests
    xorriso genisoimage p7zip-full fdisk gdisk udftools
    # peak memory in the ISO test and the benchmark (/usr/bin/time)
    time
    # an independent implementation of the encryption format (docs/check_vectors.py)
    python3 python3-cryptography python3-argon2
    # USB tests: loop devices, partx, mount, mkfs.ext4, script (bc: bench/usb.sh)
    mount util-linux e2fsprogs bsdutils bc
    # boot tests
    qemu-system-x86 ovmf
    # shell completions and manual pages: each script loads in its shell, each
    # page renders (tests/shell_docs.rs)
    bash zsh fish elvish groff-base man-db
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
        sudo=(sudo)
    else
        echo "error: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
