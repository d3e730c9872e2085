#!/usr/bin/env bash
# Installs the project's npm dependencies exactly as package-lock.json pins them (`npm ci`),
# as the user who owns the project, so `sudo ./provision/host.sh` leaves no root-owned
# node_modules behind.
#
# `npm ci` always deletes node_modules first. Re-running provisioning must not do that to a tree
# that already matches the lock (it would break a test run in progress and cost a minute), so
# the script compares node_modules/.package-lock.json, npm's record of what it installed, with
# package-lock.json and runs `npm ci` only when they differ.
#
# Usage: provision/npm-ci.sh [PROJECT_DIR]   (default: the repository this script is in)
# Environment: GOLAB_FORCE_NPM_CI=1 runs `npm ci` even when node_modules looks current.
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# lock_matches_node_modules DIR: true when every package the lock file would install is in
# node_modules at the locked version. Optional packages (other platforms' binaries) may be absent.
lock_matches_node_modules() {
  local dir=$1
  [ -f "$dir/node_modules/.package-lock.json" ] || return 1
  node --input-type=module - "$dir" <<'EOF'
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')).packages ?? {};
const installed = JSON.parse(readFileSync(join(dir, 'node_modules/.package-lock.json'), 'utf8')).packages ?? {};
const stale = Object.entries(lock).filter(([path, wanted]) => {
  if (path === '' || wanted.link) return false;
  const have = installed[path];
  if (!have) return !wanted.optional;
  return have.version !== wanted.version || have.integrity !== wanted.integrity;
});
if (stale.length > 0) {
  process.stderr.write(`node_modules differs from package-lock.json in ${stale.length} package(s), e.g. ${stale[0][0]}\n`);
  process.exit(1);
}
EOF
}

main() {
  local dir=${1:-$(project_root)}
  [ -f "$dir/package-lock.json" ] || die "$dir/package-lock.json is missing: run from a clone of the project"
  { have node && have npm; } || die "node and npm are not on PATH: run provision/node.sh first"
  if [ -z "${GOLAB_FORCE_NPM_CI:-}" ] && lock_matches_node_modules "$dir"; then
    log "npm dependencies: node_modules matches package-lock.json, nothing to do"
    return 0
  fi
  local start
  start=$(date +%s)
  log "npm ci in $dir (as $(stat -c %U "$dir"))"
  (cd "$dir" && run_as_owner "$dir" npm ci --no-audit --no-fund) \
    || die "npm ci failed: see npm's output above (a network problem reaching registry.npmjs.org, or a package-lock.json out of date with package.json: run 'npm install' and commit the lock)"
  log "npm dependencies installed ($(elapsed_since "$start"))"
}

main "$@"
