#!/usr/bin/env bash
# Shared helpers for every provision/ script: logging, failing fast with a
# message that says what to do, and detecting the distribution.
# Sourced, never executed.

# log STEP...: one line per step, so a failed provision shows where it stopped.
log() { printf '\033[1;34m[provision]\033[0m %s\n' "$*" >&2; }

# die MESSAGE: stop with a message that names the fix.
die() { printf '\033[1;31m[provision] error:\033[0m %s\n' "$*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "run as root: sudo $0"
}

# distro_id prints debian or ubuntu (from /etc/os-release), and fails on anything else.
distro_id() {
  # shellcheck disable=SC1091
  . /etc/os-release
  case "${ID:-}" in
    debian|ubuntu) printf '%s\n' "$ID" ;;
    *) die "unsupported distribution '${ID:-unknown}': use Debian 12 or Ubuntu 20.04+" ;;
  esac
}

# distro_codename prints e.g. bookworm or focal.
distro_codename() {
  # shellcheck disable=SC1091
  . /etc/os-release
  printf '%s\n' "${VERSION_CODENAME:-}"
}

# apt_update_once runs apt-get update at most once per provision run.
apt_update_once() {
  if [ -z "${GOLAB_APT_UPDATED:-}" ]; then
    log "apt-get update"
    apt-get update -qq || die "apt-get update failed: check the network and /etc/apt/sources.list.d/"
    export GOLAB_APT_UPDATED=1
  fi
}

# apt_install PKG...: installs what is missing, quietly and without prompts.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    # Strip /suite or =version for the installed check.
    local name=${pkg%%/*}
    name=${name%%=*}
    dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  apt_update_once
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed: see the apt output above"
}

# apt_install_optional PKG...: like apt_install, but a package that cannot be had is reported, not fatal.
apt_install_optional() {
  local pkg
  for pkg in "$@"; do
    ( apt_install "$pkg" ) || log "optional package $pkg is not available here; continuing without it"
  done
}

# debian_add_suites adds bullseye, bookworm-backports, trixie and trixie-backports
# as *low-priority* sources. Pin-Priority 100 means apt never picks a package from them
# unless asked with PKG/SUITE or -t SUITE, so libc and the rest of the base system can
# never be upgraded by accident (a trixie libc would break the host).
debian_add_suites() {
  local list=/etc/apt/sources.list.d/golab-extra-suites.sources
  local pref=/etc/apt/preferences.d/golab-extra-suites
  if [ ! -f "$list" ]; then
    log "adding Debian suites bullseye, bookworm-backports, trixie, trixie-backports (pinned to 100)"
    cat >"$list" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye bookworm-backports trixie trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    unset GOLAB_APT_UPDATED
  fi
  if [ ! -f "$pref" ]; then
    cat >"$pref" <<'PREF'
# go-ebpf-lab: extra suites are only used when asked for by name.
Package: *
Pin: release n=bullseye
Pin-Priority: 100

Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100

Package: *
Pin: release n=trixie
Pin-Priority: 100

Package: *
Pin: release n=trixie-backports
Pin-Priority: 100
PREF
  fi
}
