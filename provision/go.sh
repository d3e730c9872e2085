#!/usr/bin/env bash
# Installs the Go toolchains the lab builds its tracees with.
#
#   Debian: Debian's own packages, one suite per version, GOROOT /usr/lib/go-<minor>:
#     1.15 bullseye, 1.19 bookworm, 1.21-1.23 bookworm-backports, 1.24 trixie,
#     1.25-1.27 trixie-backports; plus gccgo-12 (a third ABI: result pointer in rdi).
#     The extra suites sit at pin priority 100 (lib.sh: debian_add_suites) and every package
#     is asked for as PKG/SUITE, so libc never moves; apt_install simulates first and refuses
#     any plan that would replace it.
#   Ubuntu: the official tarballs from go.dev, checked against the sha256 sums below before
#     anything is unpacked, GOROOT /usr/local/lib/go-<minor> (the same naming as Debian, so the
#     lab's toolchain discovery globs one pattern per distribution).
#
# Environment:
#   GOLAB_GO_VERSIONS  minor versions to install, e.g. "1.15 1.19" (default: all below).
#                      Go 1.15 (stack ABI, the tutorial's) and 1.19 (register ABI) are required
#                      by the test suite; the others make up the matrix and are best effort on Debian.
# Run as root, directly or from provision/host.sh; safe to re-run.
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Debian: minor version -> suite its golang-<minor>-go package comes from.
declare -A DEBIAN_SUITE=(
  [1.15]=bullseye
  [1.19]=bookworm
  [1.21]=bookworm-backports [1.22]=bookworm-backports [1.23]=bookworm-backports
  [1.24]=trixie
  [1.25]=trixie-backports [1.26]=trixie-backports [1.27]=trixie-backports
)

# Ubuntu: minor version -> newest patch release we hold a checksum for.
declare -A TARBALL_VERSION=(
  [1.15]=1.15.15 [1.16]=1.16.15 [1.17]=1.17.13 [1.18]=1.18.10 [1.19]=1.19.13
  [1.20]=1.20.14 [1.21]=1.21.13 [1.22]=1.22.12 [1.23]=1.23.12 [1.24]=1.24.13
  [1.25]=1.25.14 [1.26]=1.26.7 [1.27]=1.27.0
)

# sha256 of go<version>.linux-amd64.tar.gz as published on https://go.dev/dl/ (the values
# docker-library/golang pins in its versions.json; 1.15.15 cross-checked against a second
# public script). A version missing here is refused, never installed unverified.
declare -A TARBALL_SHA256=(
  [1.15.15]=0885cf046a9f099e260d98d9ec5d19ea9328f34c8dc4956e1d3cd87daaddb345
  [1.16.15]=77c782a633186d78c384f972fb113a43c24be0234c42fef22c2d8c4c4c8e7475
  [1.17.13]=4cdd2bc664724dc7db94ad51b503512c5ae7220951cac568120f64f8e94399fc
  [1.18.10]=5e05400e4c79ef5394424c0eff5b9141cb782da25f64f79d54c98af0a37f8d49
  [1.19.13]=4643d4c29c55f53fa0349367d7f1bb5ca554ea6ef528c146825b0f8464e2e668
  [1.20.14]=ff445e48af27f93f66bd949ae060d97991c83e11289009d311f25426258f9c44
  [1.21.13]=502fc16d5910562461e6a6631fb6377de2322aad7304bf2bcd23500ba9dab4a7
  [1.22.12]=4fa4f869b0f7fc6bb1eb2660e74657fbf04cdd290b5aef905585c86051b34d43
  [1.23.12]=d3847fef834e9db11bf64e3fb34db9c04db14e068eeb064f49af747010454f90
  [1.24.13]=1fc94b57134d51669c72173ad5d49fd62afb0f1db9bf3f798fd98ee423f8d730
  [1.25.14]=a21ae5633a269bcd7e90cf767e48225633795e99d831742cbf3397064fee7712
  [1.26.7]=ffb5f8de10c62550dfddab66b36b57030721e0a44a3218e9e1181d7b59f121ca
  [1.27.0]=675c26c449cbb18fc24b74650de1eabbae6e16f64326fd85a283fb3b58280685
)

# The versions the test suite cannot do without: the tutorial's stack ABI and a register ABI.
REQUIRED_MINORS=(1.15 1.19)

TARBALL_CACHE=/var/cache/go-ebpf-lab/go

# sorted_minors ARRAY-KEYS...: prints minor versions in version order.
sorted_minors() { printf '%s\n' "$@" | sort -V; }

is_required() {
  local minor=$1 required
  for required in "${REQUIRED_MINORS[@]}"; do [ "$minor" = "$required" ] && return 0; done
  return 1
}

# wanted_minors prints the minor versions to install: GOLAB_GO_VERSIONS or every known one.
wanted_minors() {
  if [ -n "${GOLAB_GO_VERSIONS:-}" ]; then
    # shellcheck disable=SC2086 # a space-separated list on purpose
    printf '%s\n' ${GOLAB_GO_VERSIONS}
  else
    sorted_minors "${!DEBIAN_SUITE[@]}" "${!TARBALL_VERSION[@]}" | uniq
  fi
}

install_debian() {
  debian_add_suites
  local minor suite pkg
  while read -r minor; do
    suite=${DEBIAN_SUITE[$minor]:-}
    if [ -z "$suite" ]; then
      is_required "$minor" && die "Go $minor has no Debian package in the suites this lab uses; choose from: $(sorted_minors "${!DEBIAN_SUITE[@]}" | tr '\n' ' ')"
      continue # a tarball-only version (1.16-1.18, 1.20): Debian 12 has no package for it
    fi
    pkg=golang-$minor-go
    [ "$suite" = bookworm ] || pkg=$pkg/$suite
    if [ -x "/usr/lib/go-$minor/bin/go" ] && [ -n "$(installed_version "golang-$minor-go")" ]; then
      log "Go $minor: present ($(installed_version "golang-$minor-go"), /usr/lib/go-$minor)"
    elif is_required "$minor"; then
      apt_install "$pkg"
    else
      apt_install_optional "$pkg"
    fi
  done < <(wanted_minors)
  # gccgo: same source language, a different calling convention; the ABI tests compare against it.
  apt_install_optional gccgo-12
}

# install_tarball MINOR: downloads, verifies and unpacks one official release.
install_tarball() {
  local minor=$1 version sum goroot tarball url tmp
  version=${TARBALL_VERSION[$minor]:-}
  [ -n "$version" ] || die "no Go release is recorded for $minor in provision/go.sh; choose from: $(sorted_minors "${!TARBALL_VERSION[@]}" | tr '\n' ' ')"
  sum=${TARBALL_SHA256[$version]:-}
  [ -n "$sum" ] || die "no sha256 is recorded for go$version in provision/go.sh, so it is not installed unverified: add the linux-amd64 sum from https://go.dev/dl/ to TARBALL_SHA256"
  goroot=/usr/local/lib/go-$minor
  if [ -x "$goroot/bin/go" ] && [ "$(head -n 1 "$goroot/VERSION" 2>/dev/null)" = "go$version" ]; then
    log "Go $version: present ($goroot)"
    return 0
  fi
  [ "$(uname -m)" = x86_64 ] || die "provision/go.sh holds amd64 checksums only; this machine is $(uname -m)"
  have curl || apt_install curl ca-certificates
  mkdir -p "$TARBALL_CACHE"
  tarball=$TARBALL_CACHE/go$version.linux-amd64.tar.gz
  url=https://go.dev/dl/go$version.linux-amd64.tar.gz
  if ! printf '%s  %s\n' "$sum" "$tarball" | sha256sum --quiet -c - 2>/dev/null; then
    log "downloading $url"
    curl -fsSL --retry 3 -o "$tarball.part" "$url" || die "download of $url failed: check the network (go.dev must be reachable)"
    mv "$tarball.part" "$tarball"
  fi
  printf '%s  %s\n' "$sum" "$tarball" | sha256sum --quiet -c - \
    || { rm -f "$tarball"; die "go$version.linux-amd64.tar.gz does not match its sha256 $sum: the download is corrupt or tampered with; re-run to fetch it again"; }
  log "unpacking go$version into $goroot"
  tmp=$(mktemp -d "/usr/local/lib/.go-$minor.XXXXXX")
  tar -C "$tmp" -xzf "$tarball" || { rm -rf "$tmp"; die "unpacking $tarball failed: check free disk space"; }
  rm -rf "$goroot"
  mv "$tmp/go" "$goroot"
  rmdir "$tmp"
}

install_ubuntu() {
  local minor
  while read -r minor; do install_tarball "$minor"; done < <(wanted_minors)
}

main() {
  require_root
  local start
  start=$(date +%s)
  case "$(distro_id)" in
    debian) install_debian ;;
    ubuntu) install_ubuntu ;;
  esac
  log "Go toolchains ready ($(elapsed_since "$start")):"
  local goroot
  for goroot in /usr/lib/go-1.* /usr/local/lib/go-1.*; do
    [ -x "$goroot/bin/go" ] && log "  $goroot: $("$goroot/bin/go" version 2>/dev/null || echo 'does not run')"
  done
  return 0
}

main "$@"
