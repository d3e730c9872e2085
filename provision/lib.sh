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

# apt_install PKG...: installs what is missing, quietly and without prompts. Waits up to ten
# minutes for another apt/dpkg run to release its lock instead of failing at once.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    # Strip /suite or =version for the installed check.
    local name=${pkg%%/*}
    name=${name%%=*}
    [ "$(dpkg-query -W -f='${Status}' "$name" 2>/dev/null)" = 'install ok installed' ] || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  apt_update_once
  apt_guard_libc "${missing[@]}"
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" \
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

# have CMD: true when CMD is on PATH.
have() { command -v "$1" >/dev/null 2>&1; }

# version_ge A B: true when version A >= version B (dpkg ordering, so 0.26.0+ds-1 >= 0.18 works).
version_ge() { dpkg --compare-versions "$1" ge "$2"; }

# apt_guard_libc ARGS...: simulates `apt-get install ARGS` and refuses when it would install,
# upgrade or remove the C library. A package from trixie asked for without a pin drags in
# trixie's libc, which takes the whole host with it; the simulation catches that before dpkg runs.
apt_guard_libc() {
  local plan
  plan=$(DEBIAN_FRONTEND=noninteractive apt-get -s install -y --no-install-recommends "$@" 2>&1) \
    || die "apt-get cannot install $*: $(grep -E '^E:|^ ' <<<"$plan" | sed -n '1,5p' | tr '\n' ' ')"
  if grep -Eq '^(Inst|Remv) (libc6|libc-bin|libc6-dev|libc-dev-bin)( |:)' <<<"$plan"; then
    die "installing $* would replace the C library ($(grep -E '^(Inst|Remv) libc6[ :]' <<<"$plan" | sed -n '1p')); ask for the package with PKG/SUITE and keep the extra suites at pin priority 100 (see /etc/apt/preferences.d/golab-extra-suites)"
  fi
}

# apt_candidate PKG: prints the version apt would install (empty when none). Refreshes the
# package lists once when they are missing or do not know the package yet.
apt_candidate() {
  local version
  version=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if { [ -z "$version" ] || [ "$version" = "(none)" ]; } && [ -z "${GOLAB_APT_UPDATED:-}" ]; then
    apt_update_once
    version=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  fi
  [ "$version" = "(none)" ] && version=
  printf '%s\n' "$version"
}

# installed_version PKG: prints the installed version of PKG (empty when not installed).
installed_version() {
  dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '$3 == "installed" {print $4}'
}

# project_root prints the repository root (the parent of provision/).
project_root() { (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); }

# run_as_owner DIR CMD...: runs CMD as the user who owns DIR, so files it creates there
# (node_modules, build output) are not left owned by root after `sudo ./provision/host.sh`.
# Runs CMD directly when DIR belongs to root or we are not root.
run_as_owner() {
  local dir=$1 owner home
  shift
  owner=$(stat -c %U "$dir")
  if [ "$(id -u)" -ne 0 ] || [ "$owner" = root ] || [ "$owner" = UNKNOWN ]; then
    "$@"
    return
  fi
  home=$(getent passwd "$owner" | cut -d: -f6)
  runuser -u "$owner" -- env HOME="${home:-/tmp}" PATH="$PATH" "$@"
}

# elapsed_since START: seconds since START (from `date +%s`), for per-step timings.
elapsed_since() { printf '%ss' "$(($(date +%s) - $1))"; }

# apt_install_version PKG VERSION: installs exactly VERSION of PKG (upgrading or downgrading an
# installed one), unless that version is installed already.
apt_install_version() {
  local pkg=$1 version=$2
  [ "$(installed_version "$pkg")" = "$version" ] && return 0
  apt_update_once
  apt_guard_libc "$pkg=$version"
  log "apt-get install $pkg=$version"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 --allow-downgrades "$pkg=$version" \
    || die "apt-get install $pkg=$version failed: see the apt output above"
}

# require_supported_release dies unless this is Debian 12 or Ubuntu 20.04 or later: the
# releases whose package names and versions the provision scripts were written against.
require_supported_release() {
  # shellcheck disable=SC1091
  . /etc/os-release
  case "$(distro_id)" in
    debian)
      [ "${VERSION_ID:-}" = 12 ] \
        || die "Debian ${VERSION_ID:-unknown} is not supported: the Go and BCC package choices are made for Debian 12 (bookworm)" ;;
    ubuntu)
      version_ge "${VERSION_ID:-0}" 20.04 \
        || die "Ubuntu ${VERSION_ID:-unknown} is too old: use 20.04 or later" ;;
  esac
}
