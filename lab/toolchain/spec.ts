/**
 * Toolchain specs: the short names users pass to `--go` and tests pass to findToolchain —
 * `1.15`, `go1.22`, `go1.22.3`, `gccgo`, `gccgo-12` — and how they pick a toolchain.
 */
import { GolabError, ExitCode } from '../errors.ts';
import type { Toolchain } from './types.ts';
import { compareGoVersions, parseGoVersion, type GoVersion } from './version.ts';

/** A parsed toolchain spec. */
export type ToolchainSpec =
  /** A gc release line (`1.22`: any patch, the newest wins) or an exact release (`1.22.3`). */
  | { readonly kind: 'gc'; readonly version: GoVersion; readonly text: string }
  /** gccgo of any GCC version (the newest wins), or of one GCC major version (`gccgo-12`). */
  | { readonly kind: 'gccgo'; readonly gccMajor?: number; readonly text: string };

/** Parses a spec; throws GolabError TOOLCHAIN_SPEC_INVALID when it is not one. */
export function parseToolchainSpec(text: string): ToolchainSpec {
  const trimmed = text.trim();
  const gccgo = /^gccgo(?:-(\d+))?$/.exec(trimmed);
  if (gccgo) {
    return gccgo[1] === undefined
      ? { kind: 'gccgo', text: trimmed }
      : { kind: 'gccgo', gccMajor: Number(gccgo[1]), text: trimmed };
  }
  const version = parseGoVersion(trimmed);
  if (version) return { kind: 'gc', version, text: trimmed };
  throw new GolabError('TOOLCHAIN_SPEC_INVALID', `"${text}" is not a toolchain spec`, {
    hint: 'write a Go release line (1.22), an exact release (go1.22.3), gccgo or gccgo-12',
    exitCode: ExitCode.usage,
  });
}

/** True when `toolchain` satisfies `spec`. */
export function matchesSpec(toolchain: Toolchain, spec: ToolchainSpec): boolean {
  if (spec.kind === 'gccgo') {
    if (toolchain.kind !== 'gccgo') return false;
    return spec.gccMajor === undefined || toolchain.id === `gccgo-${spec.gccMajor}`;
  }
  if (toolchain.kind !== 'gc') return false;
  const have = parseGoVersion(toolchain.version);
  if (!have) return false;
  const want = spec.version;
  if (have.major !== want.major || have.minor !== want.minor) return false;
  // `1.22` means the release line; `1.22.3` and `1.21rc2` mean exactly that release.
  if (want.patch === undefined && want.prerelease === undefined) return true;
  return (have.patch ?? 0) === (want.patch ?? 0) && have.prerelease === want.prerelease;
}

/** The best toolchain for `spec` among `toolchains` (the newest match), or undefined. */
export function selectToolchain(toolchains: readonly Toolchain[], spec: ToolchainSpec): Toolchain | undefined {
  return toolchains.filter((toolchain) => matchesSpec(toolchain, spec)).sort(newestFirst)[0];
}

/** Sort order for toolchains: gc before gccgo, then by ascending version, then by id. */
export function toolchainOrder(a: Toolchain, b: Toolchain): number {
  if (a.kind !== b.kind) return a.kind === 'gc' ? -1 : 1;
  return compareVersionText(a, b) || a.id.localeCompare(b.id, 'en', { numeric: true });
}

function newestFirst(a: Toolchain, b: Toolchain): number {
  return -(compareVersionText(a, b) || (a.compilerVersion ?? '').localeCompare(b.compilerVersion ?? '', 'en', { numeric: true }));
}

function compareVersionText(a: Toolchain, b: Toolchain): number {
  const va = parseGoVersion(a.version);
  const vb = parseGoVersion(b.version);
  if (!va || !vb) return a.version.localeCompare(b.version, 'en', { numeric: true });
  return compareGoVersions(va, vb);
}
