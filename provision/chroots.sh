#!/usr/bin/env bash
# Debian chroots that hold other BCC releases, so the lab/bcc binding is proven against the real
# libraries on this kernel: libbpfcc 0.18 (bullseye) and 0.31 (trixie), beside the host's 0.26.
#
# Why chroots: trixie's libbcc needs trixie's libc (2.38+), which must never be installed on the
# bookworm host, and each release's libbcc drags in its own LLVM. A chroot keeps both whole.
#
# How a test runs there: the chroot has only Debian's minimal base and libbpfcc. Everything
# else comes from the host through bind mounts, in a private mount namespace (unshare -m) that
# disappears with the command, so nothing is left mounted:
#   - the host's node, at /usr/local/bin/node. Its binary needs glibc >= 2.28 and
#     GLIBCXX_3.4.21, which bullseye (2.31) and trixie (2.41) both satisfy. It runs on the
#     chroot's libc, and so does the libbcc it loads;
#   - the project, at the same path, with its node_modules. koffi's prebuilt addon and tsx work
#     on both releases;
#   - /proc, /sys (with tracefs, debugfs, securityfs below it) and /dev, for BPF and perf events;
#   - /lib/modules and /usr/src, the kernel headers BCC compiles against;
#   - /var/cache/go-ebpf-lab/builds, so tracees built on the host by the lab's toolchain cache
#     are at the same paths inside. The Go toolchains are not mounted: Debian's go binaries are
#     linked against the host's libc.
#
# Usage:
#   provision/chroots.sh build [bullseye|trixie|all]     debootstrap (idempotent; default all)
#   provision/chroots.sh run SUITE [--] COMMAND [ARG...]  run COMMAND in the chroot, in the
#                                                         project directory
#   provision/chroots.sh path SUITE                       print the chroot's root directory
# Needs root, and network access to deb.debian.org for `build`.
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHROOTS=/var/cache/go-ebpf-lab/chroots
MIRROR=http://deb.debian.org/debian
SUITES=(bullseye trixie)
# The chroot's own packages: libbcc and what it depends on (its LLVM, libelf, its libc).
INCLUDE=libbpfcc

chroot_dir() { printf '%s/%s\n' "$CHROOTS" "$1"; }

known_suite() {
  local suite
  for suite in "${SUITES[@]}"; do [ "$suite" = "$1" ] && return 0; done
  die "unknown suite '$1': choose one of ${SUITES[*]}"
}

# ready_marker SUITE: the file a finished build leaves, holding the libbpfcc version.
ready_marker() { printf '%s/.golab-ready\n' "$(chroot_dir "$1")"; }

build_one() {
  local suite=$1 dir start version
  dir=$(chroot_dir "$suite")
  if [ -f "$(ready_marker "$suite")" ]; then
    log "$suite chroot: present at $dir (libbpfcc $(cat "$(ready_marker "$suite")"))"
    return 0
  fi
  [ -f "/usr/share/debootstrap/scripts/$suite" ] || die "this debootstrap does not know $suite: upgrade debootstrap (apt-get install debootstrap)"
  start=$(date +%s)
  # A half-built chroot from an interrupted run is not worth repairing.
  if [ -d "$dir" ]; then
    grep -q "^$dir/" <<<"$(findmnt -rno TARGET)" && die "something is mounted below $dir: unmount it (findmnt | grep $dir) and re-run"
    rm -rf "$dir"
  fi
  mkdir -p "$CHROOTS"
  log "$suite chroot: debootstrap --variant=minbase --include=$INCLUDE (a few minutes)"
  debootstrap --variant=minbase --include="$INCLUDE" "$suite" "$dir.part" "$MIRROR" >"$CHROOTS/$suite.log" 2>&1 \
    || die "debootstrap $suite failed: see $CHROOTS/$suite.log (deb.debian.org must be reachable)"
  mv "$dir.part" "$dir"
  rm -rf "$dir/var/cache/apt/archives/"*.deb
  # shellcheck disable=SC2016 # ${Version} is dpkg-query's format, not a shell expansion
  version=$(chroot "$dir" dpkg-query -W -f='${Version}' libbpfcc)
  printf '%s\n' "$version" >"$(ready_marker "$suite")"
  log "$suite chroot: ready at $dir, libbpfcc $version ($(elapsed_since "$start"), $(du -sh "$dir" | cut -f1))"
}

build() {
  require_root
  apt_install debootstrap
  local which=${1:-all} suite
  if [ "$which" = all ]; then
    for suite in "${SUITES[@]}"; do build_one "$suite"; done
  else
    known_suite "$which"
    build_one "$which"
  fi
}

# bind SOURCE TARGET [ro]: bind-mounts SOURCE onto TARGET (a file or a directory), creating
# TARGET first. Runs inside the private namespace only.
bind() {
  local source=$1 target=$2 mode=${3:-rw}
  [ -e "$source" ] || return 0
  if [ -d "$source" ]; then mkdir -p "$target"; else mkdir -p "$(dirname "$target")"; : >>"$target"; fi
  mount --rbind "$source" "$target"
  [ "$mode" = ro ] && mount -o remount,bind,ro "$target"
  return 0
}

# enter SUITE COMMAND...: the body of `run`, executed in a new mount namespace.
enter() {
  local suite=$1 dir project
  shift
  dir=$(chroot_dir "$suite")
  project=$(project_root)
  mount --make-rprivate /
  bind /proc "$dir/proc"
  bind /sys "$dir/sys"
  bind /dev "$dir/dev"
  bind /lib/modules "$dir/lib/modules" ro
  bind /usr/src "$dir/usr/src" ro
  bind "$(readlink -f "$(command -v node)")" "$dir/usr/local/bin/node" ro
  bind "$project" "$dir$project"
  bind /var/cache/go-ebpf-lab/builds "$dir/var/cache/go-ebpf-lab/builds"
  mount -t tmpfs golab-chroot-tmp "$dir/tmp"
  # A clean environment, except the lab's own settings (GOLAB_*) and CI.
  local environment=(PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root "TERM=${TERM:-dumb}") entry
  while IFS= read -r -d '' entry; do
    case "$entry" in GOLAB_*=*|CI=*) environment+=("$entry") ;; esac
  done < <(env -0)
  cd /
  # shellcheck disable=SC2016 # $1 and $@ belong to the inner sh
  exec chroot "$dir" /usr/bin/env -i "${environment[@]}" \
    /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$project" "$@"
}

run() {
  require_root
  local suite=${1:-}
  [ -n "$suite" ] || die "usage: $0 run SUITE [--] COMMAND [ARG...]"
  known_suite "$suite"
  shift
  [ "${1:-}" = -- ] && shift
  [ "$#" -gt 0 ] || die "usage: $0 run $suite [--] COMMAND [ARG...]"
  [ -f "$(ready_marker "$suite")" ] || die "the $suite chroot is not built: run sudo $0 build $suite"
  have node || die "node is not on PATH: the chroot borrows the host's node"
  exec unshare -m "$0" __enter "$suite" "$@"
}

main() {
  local action=${1:-}
  shift || true
  case "$action" in
    build) build "$@" ;;
    run) run "$@" ;;
    path) known_suite "${1:-}"; chroot_dir "$1" ;;
    __enter) enter "$@" ;;
    *) die "usage: $0 build [SUITE|all] | run SUITE [--] COMMAND... | path SUITE" ;;
  esac
}

main "$@"
