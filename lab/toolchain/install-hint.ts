/**
 * How to install a missing toolchain, per distribution: the Debian package and the suite it
 * comes from (measured on Debian 12, see shared/reference/environment.md), or the provision
 * script that installs checksummed official tarballs (Ubuntu, and Go releases Debian lacks).
 */
import type { ToolchainSpec } from './spec.ts';

/**
 * Debian packages of gc toolchains by release line, and the suite each is installed from.
 * The non-bookworm suites must be in APT's sources at a low pin priority so libc never moves;
 * `provision/` sets that up.
 */
export const DEBIAN_GO_PACKAGES: Readonly<Record<string, string>> = {
  '1.15': 'bullseye',
  '1.19': 'bookworm',
  '1.21': 'bookworm-backports',
  '1.22': 'bookworm-backports',
  '1.23': 'bookworm-backports',
  '1.24': 'trixie',
  '1.25': 'trixie-backports',
  '1.26': 'trixie-backports',
  '1.27': 'trixie-backports',
};

/** gccgo packages by GCC major version and their suite. */
export const DEBIAN_GCCGO_PACKAGES: Readonly<Record<number, string>> = { 12: 'bookworm' };

/** The distribution family, from /etc/os-release's ID and ID_LIKE. */
export type DistroFamily = 'debian' | 'ubuntu' | 'other';

/** Classifies the text of /etc/os-release. */
export function distroFamily(osRelease: string): DistroFamily {
  const field = (name: string): string =>
    new RegExp(`^${name}="?([^"\\n]*)"?$`, 'm').exec(osRelease)?.[1]?.toLowerCase() ?? '';
  const id = field('ID');
  if (id === 'ubuntu') return 'ubuntu';
  if (id === 'debian') return 'debian';
  if (field('ID_LIKE').split(/\s+/).includes('ubuntu')) return 'ubuntu';
  return field('ID_LIKE').split(/\s+/).includes('debian') ? 'debian' : 'other';
}

const PROVISION = 'sudo ./provision/go.sh';
const ROOTS = 'list its GOROOT in GOLAB_GOROOTS (colon-separated)';

/** One sentence that says how to get a toolchain matching `spec` on `distro`. */
export function installHint(spec: ToolchainSpec, distro: DistroFamily): string {
  if (spec.kind === 'gccgo') {
    const major = spec.gccMajor ?? 12;
    const suite = DEBIAN_GCCGO_PACKAGES[major];
    if (distro === 'ubuntu') return `apt-get install gccgo-${major} (it ships the go-${major} tool the lab builds with)`;
    if (distro === 'debian' && suite !== undefined) {
      return `apt-get install gccgo-${major}/${suite} (it ships the go-${major} tool the lab builds with), or ${PROVISION}`;
    }
    return `install gccgo-${major} and its go-${major} tool from your distribution`;
  }
  const line = `${spec.version.major}.${spec.version.minor}`;
  const exact = spec.version.patch !== undefined || spec.version.prerelease !== undefined;
  const suite = DEBIAN_GO_PACKAGES[line];
  if (distro === 'debian' && suite !== undefined && !exact) {
    return `apt-get install golang-${line}-go/${suite} (the suite must be configured at a low APT pin so libc never moves), or ${PROVISION}`;
  }
  if (distro === 'debian' && suite !== undefined) {
    return `Debian ships one patch release of Go ${line} (golang-${line}-go/${suite}): ask for "${line}" instead, or unpack the official go${spec.text.replace(/^go/, '')} tarball and ${ROOTS}`;
  }
  return `${PROVISION} installs checksummed official Go tarballs into /usr/local/lib/go-<version>; or unpack one yourself and ${ROOTS}`;
}
