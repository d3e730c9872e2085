#!/usr/bin/env bash
# Prepares this machine (Debian 12 or Ubuntu 20.04+) to run the lab: the README's first command,
#
#   sudo ./provision/host.sh        then        sudo npm test
#
# Each step is its own script in provision/ (shared with the Vagrant VM), each idempotent:
#   kernel.sh    kernel headers where BCC looks (linked when none match the running kernel),
#                tracefs, debugfs and securityfs mounts
#   bcc.sh       libbcc (+ python3 bindings, bpftrace); Ubuntu 20.04 builds v0.23.0 from source
#   go.sh        Go 1.15 (stack ABI), 1.19 (register ABI) and the matrix versions; gccgo-12
#   node.sh      Node.js >= 20.19
#   tools.sh     docker.io (dockerode tests), shellcheck and vagrant (CI checks of provision/),
#                chromium only when GOLAB_INSTALL_CHROMIUM=1 (screenshots; large, so off by default)
#   vm.sh        the qemu kernel lab's tools, when provision/vm.sh exists (Debian)
#   npm-ci.sh    npm ci, unless node_modules already matches package-lock.json
#   doctor.sh    `golab doctor` and the lockdown mode
#
# Environment:
#   GOLAB_GO_VERSIONS="1.15 1.19"  install only these Go minor versions (default: all)
#   GOLAB_INSTALL_CHROMIUM=1       also install chromium
#   GOLAB_START_DOCKERD=1          start dockerd when no init system runs it (CI sets this)
#   GOLAB_SKIP_VM_TOOLS=1          skip provision/vm.sh
# Safe to re-run: a second run installs nothing and takes seconds.
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(project_root)
TIMINGS=()

CURRENT_STEP=''

# step NAME COMMAND...: runs one provisioning step and logs its duration. Errors still stop the
# whole run at once (set -e, die); the EXIT trap then names the step that stopped it.
step() {
  local name=$1 start
  shift
  start=$(date +%s)
  CURRENT_STEP=$name
  log "── $name"
  "$@"
  TIMINGS+=("$name $(elapsed_since "$start")")
  CURRENT_STEP=''
}

on_exit() {
  local status=$1
  if [ "$status" -ne 0 ] && [ -n "$CURRENT_STEP" ]; then
    printf '\033[1;31m[provision]\033[0m host.sh stopped at step "%s" (exit %s): fix what the message above says, then re-run sudo ./provision/host.sh (it is safe to re-run)\n' "$CURRENT_STEP" "$status" >&2
  fi
}
trap 'on_exit $?' EXIT

base_packages() {
  apt_install ca-certificates curl git util-linux
}

vm_tools() {
  if [ "${GOLAB_SKIP_VM_TOOLS:-}" = 1 ]; then
    log "kernel lab tools: skipped (GOLAB_SKIP_VM_TOOLS=1)"
  elif [ "$(distro_id)" != debian ]; then
    log "kernel lab tools: skipped (the qemu kernel lab uses Debian's kernel packages; run it on Debian 12)"
  elif [ -x "$HERE/vm.sh" ]; then
    "$HERE/vm.sh"
  else
    log "kernel lab tools: provision/vm.sh is not in this checkout; nothing to do"
  fi
}

main() {
  require_root
  require_supported_release
  local start
  start=$(date +%s)
  # shellcheck disable=SC1091
  log "provisioning $(. /etc/os-release && printf '%s' "$PRETTY_NAME"), kernel $(uname -r), for $ROOT"
  step "base packages" base_packages
  step "kernel headers and mounts" "$HERE/kernel.sh"
  step "libbcc" "$HERE/bcc.sh"
  step "Go toolchains" "$HERE/go.sh"
  step "Node.js" "$HERE/node.sh"
  step "docker, shellcheck, vagrant" "$HERE/tools.sh"
  step "kernel lab tools" vm_tools
  step "npm dependencies" "$HERE/npm-ci.sh" "$ROOT"
  step "final check" "$HERE/doctor.sh" "$ROOT"
  log "done in $(elapsed_since "$start"):"
  local line
  for line in "${TIMINGS[@]}"; do log "  $line"; done
  log "next: sudo npm test"
}

main "$@"
