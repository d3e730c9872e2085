#!/usr/bin/env bash
# The last step of every provisioning route: prints what the lab can do on this kernel
# (`golab doctor`) and the kernel's lockdown mode, so the person who ran `host.sh` or
# `vagrant up` sees at once whether rewrites will run or be skipped.
# It reports; it does not fail the provisioning (a refused capability is a fact about the
# kernel, and the tests skip with the same message), except when the lab cannot start at all.
#
# Usage: provision/doctor.sh [PROJECT_DIR]
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# lockdown_mode prints the active lockdown mode (the bracketed word), or why it is unknown.
lockdown_mode() {
  local file=/sys/kernel/security/lockdown
  if [ -r "$file" ]; then
    sed -n 's/.*\[\([a-z]*\)\].*/\1/p' "$file"
  elif [ -d /sys/kernel/security ] && ! awk '$2 == "/sys/kernel/security" {f = 1} END {exit !f}' /proc/mounts; then
    printf 'unknown (securityfs is not mounted: mount -t securityfs securityfs /sys/kernel/security)\n'
  else
    printf 'none (this kernel has no lockdown LSM)\n'
  fi
}

main() {
  local dir=${1:-$(project_root)} mode status=0
  mode=$(lockdown_mode)
  log "lockdown: $mode"
  case "$mode" in
    integrity|confidentiality)
      log "  lockdown=$mode refuses bpf_probe_write_user: argument rewrites through the stack are skipped on this kernel (use 'npm run test:vm' for a kernel that allows them)" ;;
  esac
  log "golab doctor:"
  if [ ! -f "$dir/lab/cli/doctor.ts" ]; then
    log "  lab/cli/doctor.ts is not in this checkout yet, so there is no 'golab doctor' to run"
    return 0
  fi
  (cd "$dir" && node bin/golab.mjs doctor) || status=$?
  if [ "$status" -ne 0 ]; then
    log "golab doctor exited with $status: its output above says what is missing (exit 4: the host lacks something; 5: the kernel refuses)"
  fi
  return 0
}

main "$@"
