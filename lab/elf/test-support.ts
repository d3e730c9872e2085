/**
 * Test support for lab/elf: the installed Go toolchains, and small real programs built with them
 * through lab/toolchain's content-addressed build cache, so a repeated run rebuilds nothing.
 * Programs a test generates are written to a directory named by their content hash under the
 * cache (see {@link testProgram}); files a test derives from a binary (decompressed copies,
 * truncations) go to a temporary directory removed afterwards.
 * Not a test file itself; the *.test.ts files beside it import it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAll, buildTracee, defaultCacheDir } from '../toolchain/build.ts';
import { discoverToolchains } from '../toolchain/discover.ts';
import type { BuildMode, BuildTweaks, Toolchain as LabToolchain } from '../toolchain/types.ts';

/** An installed gc toolchain. */
export interface Toolchain {
  /** Minor version: 15 for Go 1.15. */
  readonly minor: number;
  /** Path of its `go` command. */
  readonly go: string;
  /** `runtime.Version()` as `go version` prints it, e.g. `go1.15.15`. */
  readonly version: string;
  /** The toolchain as lab/toolchain discovered it (what builds take). */
  readonly toolchain: LabToolchain;
}

/** The repository root (two levels above this file). */
export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
/** The seed tracee: `main.ebpfDemo(a1 int, a2 bool, a3 float32) (r1 int64, r2 int32, r3 string)`. */
export const seedDir = join(repoRoot, 'tracee/seed');

// Discovered once per test process (lab/toolchain probes each `go` command).
const discovered = await discoverToolchains();
const gcToolchains: Toolchain[] = discovered
  .filter((t) => t.kind === 'gc')
  .flatMap((t) => {
    const m = /^1\.(\d+)/.exec(t.version);
    return m ? [{ minor: Number(m[1]), go: t.goBinary, version: t.id, toolchain: t }] : [];
  })
  .sort((a, b) => a.minor - b.minor);
const gccgoToolchain = discovered.find((t) => t.kind === 'gccgo');

/** Installed gc toolchains, oldest first. */
export function installedToolchains(): Toolchain[] {
  return [...gcToolchains];
}

/** The toolchain with this minor version, if installed. */
export function toolchain(minor: number): Toolchain | undefined {
  return gcToolchains.find((t) => t.minor === minor);
}

/** How to build: default, stripped (`-ldflags=-s -w`), PIE, or PIE linked by the C linker. */
export type BuildVariant = 'default' | 'stripped' | 'pie' | 'pie-stripped' | 'pie-external' | 'pie-external-stripped';

const variants: Record<BuildVariant, { mode: BuildMode; tweaks?: BuildTweaks }> = {
  default: { mode: 'default' },
  stripped: { mode: 'stripped' },
  pie: { mode: 'pie' },
  'pie-stripped': { mode: 'pie', tweaks: { strip: true } },
  'pie-external': { mode: 'pie', tweaks: { externalLink: true } },
  'pie-external-stripped': { mode: 'pie', tweaks: { externalLink: true, strip: true } },
};

/**
 * A directory holding `files` (name → content) plus a `go.mod` for module `golab/<name>`, named
 * by the hash of all of it under the build cache (`<cache>/sources/<hash>/<name>`), so every run
 * builds the same directory and hits the cache. Written once, through a rename, so concurrent
 * test files never see it half-written.
 */
export function testProgram(name: string, files: Readonly<Record<string, string>>): string {
  const all: Record<string, string> = { 'go.mod': `module golab/${name}\n\ngo 1.15\n`, ...files };
  const hash = createHash('sha256').update(JSON.stringify(Object.entries(all).sort(([a], [b]) => (a < b ? -1 : 1)))).digest('hex').slice(0, 16);
  const dir = join(defaultCacheDir(), 'sources', hash, name);
  if (existsSync(join(dir, 'go.mod'))) return dir;
  const staging = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  mkdirSync(staging, { recursive: true });
  for (const [file, text] of Object.entries(all)) writeFileSync(join(staging, file), text);
  try {
    renameSync(staging, dir);
  } catch (error) {
    // Another process wrote the same content first.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(dir, 'go.mod'))) throw error;
  }
  return dir;
}

/**
 * Builds through the cache, plus a temporary directory for files derived from the builds;
 * call {@link BuildDir.remove} in afterAll. Built binaries are shared cache entries: read them,
 * never write them (copy into {@link BuildDir.dir} first).
 */
export class BuildDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'golab-elf-'));

  /** Builds the Go main package in `srcDir` (default: the seed) with `tc` and returns the binary's path. */
  async go(tc: Toolchain, variant: BuildVariant = 'default', srcDir = seedDir): Promise<string> {
    const { mode, tweaks } = variants[variant];
    return (await buildTracee({ tracee: srcDir, toolchain: tc.toolchain, mode, ...(tweaks ? { tweaks } : {}) })).path;
  }

  /**
   * Builds each `[toolchain, variant, srcDir?]` like {@link go}, two toolchains at a time (the
   * machines have 2 cores; lab/toolchain keeps one toolchain's builds in sequence so they share
   * its freshly compiled standard library), and returns the paths in order.
   */
  async goAll(list: readonly (readonly [Toolchain, BuildVariant, string?])[]): Promise<string[]> {
    const requests = list.map(([tc, variant, srcDir]) => {
      const { mode, tweaks } = variants[variant];
      return { tracee: srcDir ?? seedDir, toolchain: tc.toolchain, mode, ...(tweaks ? { tweaks } : {}) };
    });
    return (await buildAll(requests, { concurrency: 2 })).map((r) => r.path);
  }

  /**
   * Builds the Go main package in `srcDir` with gccgo at -O0 (`-g`, as `gccgo -g` does by
   * default: the tests read -O0's DWARF), or returns undefined when gccgo is not installed.
   */
  async gccgo(srcDir = seedDir): Promise<string | undefined> {
    if (!gccgoToolchain) return undefined;
    return (await buildTracee({ tracee: srcDir, toolchain: gccgoToolchain, mode: 'default', tweaks: { gccgoOptimization: 0 } })).path;
  }

  /** Removes the directory and everything derived into it. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
