#!/usr/bin/env bash
# Makes the running kernel usable by BCC:
#   - kernel headers where BCC looks for them: /lib/modules/$(uname -r)/build and .../source.
#     When the distribution has a headers package for the running kernel, that package is
#     installed. When it has none (a cloud or Firecracker kernel, e.g. 6.18.44-fc here), the
#     newest packaged headers no newer than the running kernel are installed and linked into
#     place. BCC then compiles against older headers, with warnings: fine for uprobe programs,
#     which touch no kernel structures. Pointing BCC_KERNEL_SOURCE at Debian's split tree alone
#     does not work (kconfig.h lives in the -common half), hence the two links.
#   - tracefs, debugfs and securityfs: BCC attaches uprobes through perf events but detaches
#     through tracefs ("Failed to detach BPF from uprobe" until it is mounted), and the lockdown
#     mode is read from securityfs.
# Run as root, directly or from provision/host.sh; safe to re-run.
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# flavour_suffix: the headers flavour the distribution builds for this machine.
flavour_suffix() {
  case "$(distro_id)" in
    debian) printf 'amd64\n' ;;
    ubuntu) printf 'generic\n' ;;
  esac
}

# Prints the upstream part of a kernel release: 6.18.44-fc-v595 -> 6.18.44, 6.1.0-56-amd64 -> 6.1.0.
upstream_version() { printf '%s\n' "${1%%-*}"; }

# nearest_headers_tree FLAVOUR: prints the newest installed /usr/src/linux-headers-*-FLAVOUR
# whose version is not newer than the running kernel (or the oldest one, if all are newer).
nearest_headers_tree() {
  local flavour=$1 running tree release best='' oldest=''
  running=$(upstream_version "$(uname -r)")
  while read -r tree; do
    [ -d "$tree" ] || continue
    release=${tree#/usr/src/linux-headers-}
    [ -n "$oldest" ] || oldest=$tree
    dpkg --compare-versions "$(upstream_version "$release")" le "$running" && best=$tree
  done < <(find /usr/src -maxdepth 1 -name "linux-headers-*-$flavour" | sort -V)
  printf '%s\n' "${best:-$oldest}"
}

# source_tree_of BUILD_TREE: the tree BCC's `source` link must point at. Debian splits headers
# into -<flavour> (generated files) and -common (the rest); Ubuntu into -<flavour> and a
# flavourless directory.
source_tree_of() {
  local build=$1 base candidate
  base=${build%-*}
  for candidate in "$base-common" "$base"; do
    [ -d "$candidate" ] && { printf '%s\n' "$candidate"; return 0; }
  done
  printf '%s\n' "$build"
}

# link_into_modules NAME TARGET: /lib/modules/$(uname -r)/NAME -> TARGET, unless a working
# NAME is already there (a real headers package or an earlier run).
link_into_modules() {
  local name=$1 target=$2 dir
  dir=/lib/modules/$(uname -r)
  mkdir -p "$dir"
  if [ -e "$dir/$name" ] && [ "$(readlink -f "$dir/$name")" = "$(readlink -f "$target")" ]; then
    return 0
  fi
  if [ -e "$dir/$name" ] && [ ! -L "$dir/$name" ]; then
    log "keeping $dir/$name: it is a real directory, not a link this script made"
    return 0
  fi
  ln -sfn "$target" "$dir/$name"
  log "linked $dir/$name -> $target"
}

install_headers() {
  local release flavour exact tree source_tree
  release=$(uname -r)
  flavour=$(flavour_suffix)
  exact=linux-headers-$release
  if [ -d "/lib/modules/$release/build/include" ] && [ -e "/lib/modules/$release/build/Makefile" ]; then
    # Already usable: the matching package, a previous run's links, or a hand-made tree.
    local resolved
    resolved=$(readlink -f "/lib/modules/$release/build")
    log "kernel headers: /lib/modules/$release/build -> $resolved"
    case "$resolved" in
      */linux-headers-"$release"|/lib/modules/"$release"/build) ;;
      *) log "  these are not $release's own headers (no package matches the running kernel): BCC compiles against them with warnings" ;;
    esac
    [ -e "/lib/modules/$release/source" ] || link_into_modules source "$(source_tree_of "$(readlink -f "/lib/modules/$release/build")")"
    return 0
  fi
  if [ -n "$(installed_version "$exact")" ] || [ -n "$(apt_candidate "$exact")" ]; then
    apt_install "$exact"
    log "kernel headers: $exact (matches the running kernel)"
    return 0
  fi
  # No package for this kernel: take the distribution's default headers and link them.
  apt_install "linux-headers-$flavour"
  tree=$(nearest_headers_tree "$flavour")
  [ -n "$tree" ] || die "no /usr/src/linux-headers-*-$flavour tree after installing linux-headers-$flavour: check 'dpkg -L linux-headers-$flavour'"
  source_tree=$(source_tree_of "$tree")
  log "no headers package matches the running kernel $release; using the nearest packaged headers instead:"
  link_into_modules build "$tree"
  link_into_modules source "$source_tree"
  log "BCC will compile against ${tree#/usr/src/linux-headers-} headers, not $release's: expect compiler warnings; uprobe programs do not depend on the difference"
}

# mount_once TYPE DIR: mounts a pseudo filesystem unless something is mounted there already.
mount_once() {
  local type=$1 dir=$2
  if awk -v d="$dir" '$2 == d {found = 1} END {exit !found}' /proc/mounts; then
    log "$type: mounted at $dir"
    return 0
  fi
  [ -d "$dir" ] || die "$dir does not exist: this kernel lacks $type (CONFIG_${type^^}?)"
  mount -t "$type" "$type" "$dir" || die "mount -t $type $type $dir failed: mount it by hand, or run in a VM whose kernel has $type"
  log "$type: mounted at $dir (not persistent: add it to /etc/fstab to keep it across reboots)"
}

main() {
  require_root
  install_headers
  mount_once tracefs /sys/kernel/tracing
  mount_once debugfs /sys/kernel/debug
  mount_once securityfs /sys/kernel/security
}

main "$@"
