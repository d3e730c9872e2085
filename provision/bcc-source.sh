#!/usr/bin/env bash
# Builds and installs BCC v0.23.0 from source, with its libbpf submodule and its python3
# bindings: the tutorial's environment (Ubuntu 20.04, "BCC built from source"), for the Vagrant
# VM. It follows "Ubuntu - Source" in v0.23.0's INSTALL.md, with these choices:
#
#   LLVM 7, as that INSTALL.md documents for Focal. Focal's default LLVM 10 does not work for
#   this tag: linking fails with "undefined reference to getPollyPluginInfo()" (bcc #2915, LLVM
#   bug 44870), and bcc's CMake has no Polly handling. BCC dropped LLVM <= 7 only after v0.23.0
#   (#3881), so 7 is the newest choice that the tag's own guide vouches for. LLVM_DIR is passed
#   so CMake cannot pick up another LLVM that happens to be installed.
#
#   `python-is-python3` instead of INSTALL.md's `python`: Focal has no package named python.
#   The bindings are built for python3 (PYTHON_CMD=python3) in the same configure step, which is
#   what INSTALL.md's second cmake run does; one `make install` then installs both.
#
#   REVISION=0.23.0 is passed so the library is named libbcc.so.0.23.0 even in a shallow clone,
#   where `git describe` may not see the tag.
#
#   Examples and tests are not built: they are not installed, and they are where link
#   problems with mismatched LLVM/clang show up (bcc #4240).
#
# Skips everything when libbcc 0.23.0 and its python module are installed already.
# Refuses to build over a distribution libbpfcc: mixing them breaks both (bcc #4039).
# Needs the internet (github.com, the Ubuntu archive). Run as root; safe to re-run.
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BCC_VERSION=0.23.0
BCC_REPO=https://github.com/iovisor/bcc.git
SRC_DIR=/usr/local/src/bcc-v$BCC_VERSION
LLVM_MAJOR=7

# INSTALL.md v0.23.0, "For Eoan (19.10) or Focal (20.04.1 LTS)", with python -> python-is-python3,
# plus python3-setuptools (src/python runs setup.py install). Kernel headers are needed only when
# BCC compiles a program, at run time: provision/kernel.sh installs them.
BUILD_DEPS=(
  bison build-essential cmake flex git libedit-dev
  "libllvm$LLVM_MAJOR" "llvm-$LLVM_MAJOR-dev" "libclang-$LLVM_MAJOR-dev"
  python-is-python3 zlib1g-dev libelf-dev libfl-dev python3-distutils python3-setuptools
)

# installed_libbcc prints the real path of the libbcc.so.0 the dynamic linker would load.
installed_libbcc() {
  local lib
  lib=$(ldconfig -p | awk '/libbcc\.so\.0 / && !found {print $NF; found = 1}')
  [ -n "$lib" ] && readlink -f "$lib"
  return 0
}

already_installed() {
  local lib
  lib=$(installed_libbcc)
  [[ "$lib" == */libbcc.so.$BCC_VERSION ]] || return 1
  python3 -c 'import bcc' 2>/dev/null || return 1
  log "BCC $BCC_VERSION: present ($lib, python3 module bcc), nothing to build"
}

refuse_distribution_bcc() {
  local pkg
  for pkg in libbpfcc bpfcc-tools python3-bpfcc; do
    [ -z "$(installed_version "$pkg")" ] && continue
    die "the distribution's $pkg $(installed_version "$pkg") is installed; a source build of BCC $BCC_VERSION over it mixes two libbcc versions (bcc #4039): remove it first with 'apt-get remove libbpfcc bpfcc-tools python3-bpfcc' and re-run"
  done
}

fetch_source() {
  if [ -d "$SRC_DIR/.git" ] && [ -f "$SRC_DIR/src/cc/libbpf/src/libbpf.c" ] \
    && [ "$(git -C "$SRC_DIR" describe --tags --exact-match 2>/dev/null)" = "v$BCC_VERSION" ]; then
    log "source: $SRC_DIR (v$BCC_VERSION with libbpf, from an earlier run)"
    return 0
  fi
  rm -rf "$SRC_DIR"
  mkdir -p "$(dirname "$SRC_DIR")"
  log "cloning $BCC_REPO at v$BCC_VERSION with its libbpf submodule"
  # --recurse-submodules: GitHub's tag archives lack libbpf (INSTALL.md, "libbpf Submodule").
  git clone --quiet --depth 1 --branch "v$BCC_VERSION" --recurse-submodules "$BCC_REPO" "$SRC_DIR" \
    || die "git clone of $BCC_REPO failed: github.com must be reachable; re-run when it is"
  [ -f "$SRC_DIR/src/cc/libbpf/src/libbpf.c" ] \
    || die "the libbpf submodule is missing from $SRC_DIR/src/cc/libbpf: run 'git -C $SRC_DIR submodule update --init --recursive' and re-run"
}

build_and_install() {
  local build=$SRC_DIR/build start
  start=$(date +%s)
  mkdir -p "$build"
  log "configuring BCC $BCC_VERSION with LLVM $LLVM_MAJOR"
  (cd "$build" && cmake .. \
    -DCMAKE_INSTALL_PREFIX=/usr \
    -DCMAKE_BUILD_TYPE=Release \
    -DLLVM_DIR="/usr/lib/llvm-$LLVM_MAJOR/lib/cmake/llvm" \
    -DREVISION="$BCC_VERSION" \
    -DPYTHON_CMD=python3 \
    -DENABLE_EXAMPLES=OFF -DENABLE_TESTS=OFF) >"$build/cmake.log" 2>&1 \
    || die "cmake failed (log: $build/cmake.log): check that llvm-$LLVM_MAJOR-dev and libclang-$LLVM_MAJOR-dev are installed"
  log "building BCC $BCC_VERSION with $(nproc) jobs (10-30 minutes; log: $build/make.log)"
  make -C "$build" -j"$(nproc)" >"$build/make.log" 2>&1 \
    || die "make failed: the last lines of $build/make.log say why ($(tail -n 3 "$build/make.log" | tr '\n' ' '))"
  log "installing BCC $BCC_VERSION (libbcc, headers, python3 bindings)"
  make -C "$build" install >"$build/install.log" 2>&1 \
    || die "make install failed: see $build/install.log"
  ldconfig
  log "built and installed in $(elapsed_since "$start")"
}

verify() {
  local lib
  lib=$(installed_libbcc)
  [[ "$lib" == */libbcc.so.$BCC_VERSION ]] \
    || die "after installing, the dynamic linker loads '${lib:-no libbcc.so.0}', not libbcc.so.$BCC_VERSION: check 'ldconfig -p | grep libbcc'"
  python3 -c 'import bcc' \
    || die "python3 cannot import bcc after 'make install': see $SRC_DIR/build/install.log (setup.py install --install-layout deb)"
  log "BCC $BCC_VERSION: $lib; python3 module bcc at $(python3 -c 'import bcc, os; print(os.path.dirname(bcc.__file__))')"
}

main() {
  require_root
  [ "$(distro_id)" = ubuntu ] || die "bcc-source.sh builds BCC $BCC_VERSION the way INSTALL.md describes for Ubuntu 20.04; on Debian use the libbpfcc package (provision/bcc.sh)"
  already_installed && return 0
  refuse_distribution_bcc
  apt_install "${BUILD_DEPS[@]}"
  fetch_source
  build_and_install
  verify
}

main "$@"
