/**
 * Builds the lab's single-file tracees (tracee/zoo, tracee/seed) with the toolchains installed
 * on this machine, for tests that need real binaries from real compilers.
 *
 * gc builds use a per-version GOCACHE under the repository's (git-ignored) .cache directory, so
 * repeated test runs do not recompile the standard library. gccgo builds use -O0: at -O2 GCC
 * may clone a function for constant arguments (ipa-cp), and the clone, not the symbol, runs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (this file is tracee/zoo/build.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The zoo's source directory. */
export const ZOO_DIR = path.join(REPO_ROOT, 'tracee', 'zoo');
/** The tutorial's seed tracee. */
export const SEED_DIR = path.join(REPO_ROOT, 'tracee', 'seed');

/** A compiler that can build the tracees. */
export interface TraceeToolchain {
  /** `go1.19`, `go1.27`, …, or `gccgo-12`. */
  readonly id: string;
  readonly kind: 'gc' | 'gccgo';
  /** The `go` command (gc) or the gccgo driver. */
  readonly command: string;
  /** gc only: the minor version (19 for go1.19). */
  readonly minor?: number;
}

/** Options of {@link buildTracee}. */
export interface TraceeBuildOptions {
  /** Position-independent executable (gccgo's default anyway). */
  readonly pie?: boolean;
  /** Without symbol table and DWARF (`-ldflags=-s -w` / `-s`). */
  readonly stripped?: boolean;
}

/** gc toolchains under /usr/lib/go-1.N (Debian's layout) and gccgo-12 when on PATH, oldest first. */
export function installedToolchains(searchRoot = '/usr/lib'): TraceeToolchain[] {
  const found: TraceeToolchain[] = [];
  for (const entry of existsSync(searchRoot) ? readdirSync(searchRoot) : []) {
    const match = /^go-1\.(\d+)$/.exec(entry);
    const command = path.join(searchRoot, entry, 'bin', 'go');
    if (match !== null && existsSync(command)) found.push({ id: `go1.${match[1]}`, kind: 'gc', command, minor: Number(match[1]) });
  }
  found.sort((a, b) => (a.minor ?? 0) - (b.minor ?? 0));
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const command = path.join(dir, 'gccgo-12');
    if (dir !== '' && existsSync(command)) {
      found.push({ id: 'gccgo-12', kind: 'gccgo', command });
      break;
    }
  }
  return found;
}

/** Builds the single-package Go program in `sourceDir` with `toolchain` into `output`. */
export async function buildTracee(
  sourceDir: string,
  toolchain: TraceeToolchain,
  output: string,
  options: TraceeBuildOptions = {},
): Promise<string> {
  mkdirSync(path.dirname(output), { recursive: true });
  if (toolchain.kind === 'gccgo') {
    const args = ['-g', '-O0', ...(options.pie === false ? ['-no-pie'] : []), ...(options.stripped ? ['-s'] : []), '-o', output, 'main.go'];
    await run(toolchain.command, args, { cwd: sourceDir });
    return output;
  }
  const cache = path.join(REPO_ROOT, '.cache', 'go-build', toolchain.id);
  mkdirSync(cache, { recursive: true });
  const args = ['build', '-o', output];
  if (options.pie) args.push('-buildmode=pie');
  if (options.stripped) args.push('-ldflags=-s -w');
  args.push('.');
  await run(toolchain.command, args, {
    cwd: sourceDir,
    env: { ...process.env, GOCACHE: cache, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local', GO111MODULE: 'on', CGO_ENABLED: '0' },
  });
  return output;
}
