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
#   tools        docker.io (dockerode tests), shellcheck and vagrant (CI checks of provision/),
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

# install_vagrant: Debian's vagrant package. On bookworm it installs only when libarchive-tools
# comes from bookworm at the version of the installed libarchive13 (with the extra suites
# configured, apt may otherwise pick a libarchive-tools that does not match it), so that
# version is looked up and asked for explicitly.
install_vagrant() {
  if have vagrant; then
    log "vagrant: present ($(vagrant --version 2>/dev/null | head -n 1))"
    return 0
  fi
  local want=() libarchive tools_version=''
  if [ "$(distro_id)" = debian ]; then
    apt_update_once
    libarchive=$(installed_version libarchive13)
    tools_version=$(apt-cache madison libarchive-tools \
      | awk -F'|' -v v="$libarchive" '$3 ~ /bookworm/ {gsub(/ /, "", $2); if ($2 == v) {print $2; exit}}')
    if [ -z "$tools_version" ]; then
      tools_version=$(apt-cache madison libarchive-tools | awk -F'|' '$3 ~ / bookworm(-security|-updates)?\// {gsub(/ /, "", $2); print $2; exit}')
    fi
    [ -n "$tools_version" ] && want+=("libarchive-tools=$tools_version")
    log "vagrant: pinning libarchive-tools to its bookworm version ${tools_version:-(none found)}"
  fi
  want+=(vagrant)
  apt_install "${want[@]}"
}

# ensure_dockerd: the dockerode tests need a running daemon. Where systemd runs, enable it;
# elsewhere (containers, Firecracker guests) start it only when asked, because a daemon that
# creates bridges and iptables rules is not something to start behind the user's back.
ensure_dockerd() {
  if docker info >/dev/null 2>&1; then
    log "docker: daemon running"
  elif [ -d /run/systemd/system ]; then
    systemctl enable --now docker >/dev/null 2>&1 || die "systemctl enable --now docker failed: see 'journalctl -u docker'"
    log "docker: daemon enabled and started (systemd)"
  elif [ "${GOLAB_START_DOCKERD:-}" = 1 ]; then
    log "docker: starting dockerd (no init system here; log: /var/log/golab-dockerd.log)"
    nohup dockerd >/var/log/golab-dockerd.log 2>&1 &
    local tries
    for tries in $(seq 1 30); do
      docker info >/dev/null 2>&1 && { log "docker: daemon up after ${tries}s"; return 0; }
      sleep 1
    done
    die "dockerd did not answer within 30 s: see /var/log/golab-dockerd.log"
  else
    log "docker: no daemon running and no systemd to start it; the dockerode tests will skip. Start one with 'dockerd &' or re-run with GOLAB_START_DOCKERD=1"
  fi
}

tools() {
  apt_install docker.io shellcheck
  install_vagrant
  if [ "${GOLAB_INSTALL_CHROMIUM:-}" = 1 ]; then
    apt_install_optional chromium chromium-browser
  else
    log "chromium: skipped (only needed for screenshots; set GOLAB_INSTALL_CHROMIUM=1 to install it)"
  fi
  ensure_dockerd
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
  step "docker, shellcheck, vagrant" tools
  step "kernel lab tools" vm_tools
  step "npm dependencies" "$HERE/npm-ci.sh" "$ROOT"
  step "final check" "$HERE/doctor.sh" "$ROOT"
  log "done in $(elapsed_since "$start"):"
  local line
  for line in "${TIMINGS[@]}"; do log "  $line"; done
  log "next: sudo npm test"
}

main "$@"
