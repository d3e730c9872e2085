#!/usr/bin/env bash
# Installs Node.js 20 (package.json asks for >= 20.19: Vitest 4 and tsx need it).
# Neither distribution ships it in a release the lab supports (Debian 12 has 18, Ubuntu 20.04
# has 10, 24.04 has 18; trixie's 20.19 would drag trixie's libc onto a bookworm host), so it
# comes from NodeSource's apt repository, signed with NodeSource's key and pinned to it.
# Does nothing when a new enough node is on PATH already.
# Run as root, directly or from provision/host.sh; safe to re-run.
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE_MAJOR=20
NODE_MINIMUM=20.19.0
KEYRING=/etc/apt/keyrings/nodesource.gpg
SOURCES=/etc/apt/sources.list.d/golab-nodesource.sources
PIN=/etc/apt/preferences.d/golab-nodesource

current_node_version() {
  have node || return 0
  node --version 2>/dev/null | sed 's/^v//'
}

add_nodesource_repo() {
  [ -f "$KEYRING" ] && [ -f "$SOURCES" ] && return 0
  apt_install ca-certificates curl gnupg
  log "adding NodeSource's apt repository for Node $NODE_MAJOR"
  mkdir -p "$(dirname "$KEYRING")"
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o "$KEYRING.part" \
    || die "could not fetch NodeSource's signing key: https://deb.nodesource.com must be reachable (or install node >= $NODE_MINIMUM yourself and re-run)"
  mv "$KEYRING.part" "$KEYRING"
  cat >"$SOURCES" <<EOF
Types: deb
URIs: https://deb.nodesource.com/node_$NODE_MAJOR.x
Suites: nodistro
Components: main
Architectures: $(dpkg --print-architecture)
Signed-By: $KEYRING
EOF
  # NodeSource's nodejs must win over the distribution's (and over trixie's at priority 100).
  cat >"$PIN" <<'EOF'
Package: nodejs
Pin: origin deb.nodesource.com
Pin-Priority: 600
EOF
  unset GOLAB_APT_UPDATED
}

main() {
  require_root
  distro_id >/dev/null
  local version
  version=$(current_node_version)
  if [ -n "$version" ] && version_ge "$version" "$NODE_MINIMUM"; then
    log "node $version: present ($(command -v node)), nothing to do"
    return 0
  fi
  [ -z "$version" ] || log "node $version is older than $NODE_MINIMUM; upgrading from NodeSource"
  add_nodesource_repo
  apt_update_once
  local candidate
  candidate=$(apt_candidate nodejs)
  { [ -n "$candidate" ] && version_ge "$candidate" "$NODE_MINIMUM"; } \
    || die "apt offers nodejs '${candidate:-nothing}', not >= $NODE_MINIMUM: check $SOURCES and 'apt-cache policy nodejs'"
  apt_install_version nodejs "$candidate"
  version=$(current_node_version)
  { [ -n "$version" ] && version_ge "$version" "$NODE_MINIMUM"; } \
    || die "node on PATH is '${version:-missing}' after installing nodejs $candidate: remove the older node that shadows it ($(command -v node || echo none))"
  log "node $version installed (npm $(npm --version))"
}

main "$@"
