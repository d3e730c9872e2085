/**
 * Parsing what Go toolchains say about themselves: `go version`, `go env GOVERSION`,
 * `gccgo --version` and the go tool's release tags. Pure functions, no processes.
 */
import type { GoAbi, ToolchainKind } from './types.ts';

/** A released Go version, e.g. 1.22.3 → {major: 1, minor: 22, patch: 3}. */
export interface GoVersion {
  readonly major: number;
  readonly minor: number;
  /** Absent for `go1.21` style names without a patch number. */
  readonly patch?: number;
  /** A pre-release suffix such as `rc1` or `beta2`, if any. */
  readonly prerelease?: string;
}

// go1.15.15, go1.21.0, go1.21rc2, go1.22 — with or without the `go` prefix. Go 1.21 changed
// the first release of a line from `go1.21` to `go1.21.0`; both parse.
const VERSION_PATTERN = /^(?:go)?(\d+)\.(\d+)(?:\.(\d+))?((?:rc|beta)\d+)?$/;

/** Parses `go1.19.8`, `1.19.8`, `go1.21rc2` or `1.22`; undefined when it is none of these. */
export function parseGoVersion(text: string): GoVersion | undefined {
  const match = VERSION_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const [, major, minor, patch, prerelease] = match;
  return {
    major: Number(major),
    minor: Number(minor),
    ...(patch === undefined ? {} : { patch: Number(patch) }),
    ...(prerelease === undefined ? {} : { prerelease }),
  };
}

/** Formats a version without the `go` prefix: `1.19.8`, `1.18`, `1.21rc2`. */
export function formatGoVersion(version: GoVersion): string {
  const patch = version.patch === undefined ? '' : `.${version.patch}`;
  return `${version.major}.${version.minor}${patch}${version.prerelease ?? ''}`;
}

/**
 * Orders versions: by major, minor, patch (absent counts as 0), and a pre-release before its
 * release. Returns a negative, zero or positive number like `Array.prototype.sort` wants.
 */
export function compareGoVersions(a: GoVersion, b: GoVersion): number {
  return (
    a.major - b.major ||
    a.minor - b.minor ||
    (a.patch ?? 0) - (b.patch ?? 0) ||
    prereleaseRank(a.prerelease) - prereleaseRank(b.prerelease) ||
    (a.prerelease ?? '').localeCompare(b.prerelease ?? '', 'en', { numeric: true })
  );
}

function prereleaseRank(prerelease: string | undefined): number {
  if (prerelease === undefined) return 2;
  return prerelease.startsWith('rc') ? 1 : 0;
}

/**
 * Extracts the version from `go version` output, e.g.
 * `go version go1.15.15 linux/amd64` → 1.15.15. Undefined for development builds and for the
 * gccgo go tool, which prints `go version unknown linux/amd64`.
 */
export function parseGoVersionOutput(output: string): GoVersion | undefined {
  const match = /^go version (\S+)/m.exec(output);
  return match?.[1] === undefined ? undefined : parseGoVersion(match[1]);
}

/**
 * Extracts the newest `goX.Y` from a go tool's release tags, as printed by
 * `go list -f '{{context.ReleaseTags}}' runtime` (`[go1.1 go1.2 … go1.18]`). This is how the
 * Go language version a gccgo implements is learnt: its go tool knows it, `go version` does not.
 */
export function parseReleaseTags(output: string): GoVersion | undefined {
  let newest: GoVersion | undefined;
  for (const tag of output.replace(/[[\]]/g, ' ').split(/\s+/)) {
    const version = parseGoVersion(tag);
    if (version && (newest === undefined || compareGoVersions(version, newest) > 0)) newest = version;
  }
  return newest;
}

/** What `gccgo --version` says: the GCC version and its first line. */
export interface GccgoVersion {
  /** e.g. `12.2.0`. */
  readonly gccVersion: string;
  /** The GCC major version, e.g. 12: the number in the toolchain id `gccgo-12`. */
  readonly gccMajor: number;
  /** The whole first line, e.g. `gccgo-12 (Debian 12.2.0-14+deb12u1) 12.2.0`. */
  readonly firstLine: string;
}

/** Parses the first line of `gccgo --version`; undefined when it does not end in a version. */
export function parseGccgoVersionOutput(output: string): GccgoVersion | undefined {
  const firstLine = output.split('\n', 1)[0]?.trim() ?? '';
  const match = /(\d+)\.(\d+)\.(\d+)\s*$/.exec(firstLine);
  if (!match) return undefined;
  return { gccVersion: `${match[1]}.${match[2]}.${match[3]}`, gccMajor: Number(match[1]), firstLine };
}

/**
 * The amd64 calling convention a toolchain uses for Go functions. gc switched from the
 * stack-based ABI0 to the register-based ABIInternal in Go 1.17 (amd64); gccgo always uses
 * the platform's C convention.
 */
export function abiFor(kind: ToolchainKind, version: GoVersion): GoAbi {
  if (kind === 'gccgo') return 'sysv';
  return version.major > 1 || version.minor >= 17 ? 'abiinternal' : 'abi0';
}
