#!/usr/bin/env bash
# Installs libbcc (libbcc.so.0, which lab/bcc loads through koffi) and BCC's Python bindings
# from the distribution, plus bpftrace; the benchmark compares against both.
#
#   Debian 12: libbpfcc 0.26.
#   Ubuntu 22.04+: libbpfcc from the archive (0.18 on 22.04, 0.29 on 24.04).
#   Ubuntu 20.04: the archive has 0.12, older than any BCC the binding supports (0.18 and
#     later, plus 0.23 built from source), so BCC v0.23.0 is built from source instead:
#     provision/bcc-source.sh, the tutorial's own route.
#
# Environment: GOLAB_BCC=source builds v0.23.0 from source on any Ubuntu; GOLAB_BCC=archive
# forces the archive package even when it is too old (for experiments).
# Run as root, directly or from provision/host.sh; safe to re-run.
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The oldest libbcc whose C API lab/bcc knows (bcc-api.md: 0.18, 0.23, 0.26, 0.31 signatures).
MIN_ARCHIVE_BCC=0.18

main() {
  require_root
  local here candidate
  here=$(dirname "${BASH_SOURCE[0]}")
  case "$(distro_id)" in
    debian)
      apt_install libbpfcc
      apt_install_optional python3-bpfcc bpftrace
      ;;
    ubuntu)
      candidate=$(apt_candidate libbpfcc)
      if [ "${GOLAB_BCC:-}" = source ] \
        || { [ "${GOLAB_BCC:-}" != archive ] && ! { [ -n "$candidate" ] && version_ge "$candidate" "$MIN_ARCHIVE_BCC"; }; }; then
        log "the archive's libbpfcc is '${candidate:-absent}', older than $MIN_ARCHIVE_BCC: building BCC v0.23.0 from source instead"
        "$here/bcc-source.sh"
      else
        apt_install libbpfcc
        apt_install_optional python3-bpfcc bpfcc-tools
      fi
      apt_install_optional bpftrace
      ;;
  esac
  local lib
  lib=$(ldconfig -p | awk '/libbcc\.so\.0 / && !found {print $NF; found = 1}')
  [ -n "$lib" ] || die "libbcc.so.0 is not in the linker cache after installing BCC: run 'ldconfig' and check 'dpkg -L libbpfcc'"
  log "libbcc: $(readlink -f "$lib")"
}

main "$@"
