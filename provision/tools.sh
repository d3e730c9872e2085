#!/usr/bin/env bash
# Installs the tools the test suite and CI use beside the tracing stack:
#   docker.io   the dockerode tests trace Go programs inside containers;
#   ShellCheck  test/provision checks every script in provision/ and .ci/run;
#   vagrant     test/provision runs `vagrant validate --ignore-provider` on the Vagrantfile
#               (no hypervisor needed); skipped inside the Vagrant VM (GOLAB_SKIP_VAGRANT=1);
#   chromium    only with GOLAB_INSTALL_CHROMIUM=1: it is only for screenshots, and large.
# And makes sure a docker daemon runs where one can be started without surprises.
#
# Environment: GOLAB_SKIP_VAGRANT=1, GOLAB_INSTALL_CHROMIUM=1, GOLAB_START_DOCKERD=1 (start
# dockerd when no init system manages it, as on CI machines and Firecracker guests).
# Run as root, directly or from provision/host.sh; safe to re-run.
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# bookworm_libarchive_tools prints the bookworm version of libarchive-tools to ask for: the one
# equal to the installed libarchive13 if bookworm (or its updates) has it, else bookworm's newest.
bookworm_libarchive_tools() {
  local libarchive madison
  libarchive=$(installed_version libarchive13)
  madison=$(apt-cache madison libarchive-tools | awk -F'|' '$3 ~ / bookworm(-security|-updates)?\// {gsub(/ /, "", $2); print $2}')
  if [ -n "$libarchive" ] && grep -qxF "$libarchive" <<<"$madison"; then
    printf '%s\n' "$libarchive"
  else
    sed -n '1p' <<<"$madison"
  fi
}

# install_vagrant: Debian's or Ubuntu's vagrant package. vagrant depends on libarchive-tools,
# which depends on libarchive13 of exactly its own version; on bookworm with the extra suites
# added, `apt-get install vagrant` has been seen to fail on that pair. Asking for
# libarchive-tools at the bookworm version that matches the installed libarchive13 (resolved
# from apt-cache, not hard-coded: security updates move it) leaves apt one consistent choice.
install_vagrant() {
  if [ "${GOLAB_SKIP_VAGRANT:-}" = 1 ]; then
    log "vagrant: skipped (GOLAB_SKIP_VAGRANT=1)"
    return 0
  fi
  if have vagrant; then
    log "vagrant: present ($(vagrant --version 2>/dev/null | sed -n '1p'))"
    return 0
  fi
  local want=() tools_version
  if [ "$(distro_codename)" = bookworm ]; then
    apt_update_once
    tools_version=$(bookworm_libarchive_tools)
    [ -n "$tools_version" ] || die "apt knows no bookworm version of libarchive-tools: check that bookworm is in /etc/apt/sources.list.d/ and run apt-get update"
    log "vagrant: pinning libarchive-tools to its bookworm version $tools_version"
    want+=("libarchive-tools=$tools_version")
  fi
  want+=(vagrant)
  apt_install "${want[@]}"
}

# ensure_dockerd: the dockerode tests need a running daemon. Where systemd runs, enable it;
# elsewhere start it only when asked (GOLAB_START_DOCKERD=1), because a daemon that creates
# bridges and iptables rules is not something to start behind the user's back.
ensure_dockerd() {
  if docker info >/dev/null 2>&1; then
    log "docker: daemon running"
  elif [ -d /run/systemd/system ]; then
    systemctl enable --now docker >/dev/null 2>&1 || die "systemctl enable --now docker failed: see 'journalctl -u docker'"
    log "docker: daemon enabled and started (systemd)"
  elif [ "${GOLAB_START_DOCKERD:-}" = 1 ]; then
    log "docker: starting dockerd (no init system here; log: /var/log/golab-dockerd.log)"
    nohup dockerd >/var/log/golab-dockerd.log 2>&1 &
    local second
    for second in $(seq 1 30); do
      docker info >/dev/null 2>&1 && { log "docker: daemon up after ${second}s"; return 0; }
      sleep 1
    done
    die "dockerd did not answer within 30 s: see /var/log/golab-dockerd.log"
  else
    log "docker: no daemon running and no systemd to start it; the dockerode tests will skip. Start one with 'dockerd &', or re-run with GOLAB_START_DOCKERD=1"
  fi
}

main() {
  require_root
  apt_install docker.io shellcheck
  install_vagrant
  if [ "${GOLAB_INSTALL_CHROMIUM:-}" = 1 ]; then
    # Debian calls it chromium; Ubuntu's chromium-browser is a snap wrapper.
    case "$(distro_id)" in
      debian) apt_install chromium ;;
      ubuntu) apt_install_optional chromium-browser ;;
    esac
  else
    log "chromium: skipped (only for screenshots; GOLAB_INSTALL_CHROMIUM=1 installs it)"
  fi
  ensure_dockerd
}

main "$@"
