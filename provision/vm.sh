#!/usr/bin/env bash
# Installs what the kernel lab (lab/vm, `golab vm`) needs to boot Debian kernels under qemu:
#   - virtme-ng (`vng`) from trixie: on bookworm it installs with bookworm's own dependencies
#     when asked for as virtme-ng/trixie, so libc is never touched;
#   - qemu-system-x86 and busybox-static (vng builds its initramfs from the static busybox);
#   - udev: vng's guest init needs udevd, or it stops with "cannot find script I/O ports";
#   - kmod (depmod/modprobe: vng resolves module dependencies in the unpacked kernel tree),
#     xz-utils and zstd (compressed modules), dpkg-dev tools for apt-get download/dpkg-deb;
#   - python3-bpfcc (optional): lets the guest check that BCC compiles against the kernel's headers.
# Kernel packages themselves are not installed: `golab vm fetch` downloads and unpacks them into
# a cache, so they never replace the host's kernel.
# Run as root, directly or from provision/host.sh.
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root

if [ "$(distro_id)" != debian ]; then
  die "the kernel lab needs Debian's kernel packages and virtme-ng: run it on Debian 12"
fi

debian_add_suites

apt_install qemu-system-x86 busybox-static udev kmod xz-utils zstd cpio
# virtme-ng is only in trixie; its dependencies resolve from bookworm (pin 100 keeps trixie out).
# The simulation refuses the install outright if it would ever pull trixie's libc.
if ! have vng; then
  apt_update_once
  apt_guard_libc virtme-ng/trixie
fi
apt_install virtme-ng/trixie
apt_install_optional python3-bpfcc

command -v vng >/dev/null || die "vng is not on PATH after installing virtme-ng: check 'dpkg -L virtme-ng'"
log "kernel lab ready: $(vng --version 2>&1 | sed -n '1p'); fetch kernels with: npx golab vm fetch --kernel all"
