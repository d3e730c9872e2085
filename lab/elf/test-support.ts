/**
 * Test support for lab/elf: finds the installed Go toolchains and builds small real programs
 * with them into a temporary directory (one build at a time: the test machines have 2 cores).
 * Not a test file itself; the *.test.ts files beside it import it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An installed gc toolchain. */
export interface Toolchain {
  /** Minor version: 15 for Go 1.15. */
  readonly minor: number;
  /** Path of its `go` command. */
  readonly go: string;
  /** `runtime.Version()` as `go version` prints it, e.g. `go1.15.15`. */
  readonly version: string;
}

/** The repository root (two levels above this file). */
export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
/** The seed tracee: `main.ebpfDemo(a1 int, a2 bool, a3 float32) (r1 int64, r2 int32, r3 string)`. */
export const seedDir = join(repoRoot, 'tracee/seed');

/** Installed toolchains under /usr/lib/go-1.N, oldest first. */
export function installedToolchains(): Toolchain[] {
  const out: Toolchain[] = [];
  for (const entry of existsSync('/usr/lib') ? readdirSync('/usr/lib') : []) {
    const m = /^go-1\.(\d+)$/.exec(entry);
    const go = `/usr/lib/${entry}/bin/go`;
    if (!m || !existsSync(go)) continue;
    const printed = execFileSync(go, ['version'], { encoding: 'utf8' });
    const version = /\b(go1[^\s]*)/.exec(printed)?.[1];
    if (version) out.push({ minor: Number(m[1]), go, version });
  }
  return out.sort((a, b) => a.minor - b.minor);
}

/** The toolchain with this minor version, if installed. */
export function toolchain(minor: number): Toolchain | undefined {
  return installedToolchains().find((t) => t.minor === minor);
}

/** How to build: default, stripped (`-ldflags=-s -w`), PIE, or PIE linked by the C linker. */
export type BuildVariant = 'default' | 'stripped' | 'pie' | 'pie-stripped' | 'pie-external' | 'pie-external-stripped';

const variantFlags: Record<BuildVariant, string[]> = {
  default: [],
  stripped: ['-ldflags=-s -w'],
  pie: ['-buildmode=pie'],
  'pie-stripped': ['-buildmode=pie', '-ldflags=-s -w'],
  'pie-external': ['-buildmode=pie', '-ldflags=-linkmode=external'],
  'pie-external-stripped': ['-buildmode=pie', '-ldflags=-linkmode=external -s -w'],
};

/** A temporary directory of built binaries; call {@link BuildDir.remove} in afterAll. */
export class BuildDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'golab-elf-'));

  /** Builds the Go package in `srcDir` with `tc` and returns the binary's path. */
  go(tc: Toolchain, variant: BuildVariant = 'default', srcDir = seedDir, name = 'seed'): string {
    const out = join(this.dir, `${name}-go1.${tc.minor}-${variant}`);
    execFileSync(tc.go, ['build', ...variantFlags[variant], '-o', out, '.'], {
      cwd: srcDir,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return out;
  }

  /** Builds one Go source file with gccgo-12 (`-g`), or returns undefined when gccgo-12 is absent. */
  gccgo(source: string, name = 'seed-gccgo'): string | undefined {
    if (!existsSync('/usr/bin/gccgo-12')) return undefined;
    const out = join(this.dir, name);
    execFileSync('/usr/bin/gccgo-12', ['-g', '-o', out, source], { stdio: ['ignore', 'ignore', 'pipe'] });
    return out;
  }

  /** Removes the directory and everything built into it. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
