/**
 * Content addressing for tracee builds: a digest of a tracee's sources, and the cache key that
 * combines it with everything else that decides the binary's bytes.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BuildMode } from './types.ts';

/** Everything a cached binary depends on. Change any field and the key changes. */
export interface BuildKeyInputs {
  /** {@link hashSourceTree} of the tracee directory. */
  readonly sourceDigest: string;
  /** e.g. `go1.19.8`, `gccgo-12`. */
  readonly toolchainId: string;
  /** The go command that builds (resolved path). */
  readonly goBinary: string;
  /** What the toolchain says about itself; catches in-place upgrades that keep the id. */
  readonly fingerprint: string;
  readonly mode: BuildMode;
  /** The full `go build` argument list, output path excluded. */
  readonly args: readonly string[];
  /** Environment variables that change the build (CGO_ENABLED, GOFLAGS, …). */
  readonly env: Readonly<Record<string, string>>;
}

// Bump when the layout or meaning of cached entries changes, so old entries are not reused.
const KEY_SCHEMA = 1;

/** A hex SHA-256 over a canonical encoding of the inputs (env keys sorted). */
export function buildCacheKey(inputs: BuildKeyInputs): string {
  const env = Object.fromEntries(Object.entries(inputs.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const canonical = JSON.stringify([
    KEY_SCHEMA,
    inputs.sourceDigest,
    inputs.toolchainId,
    inputs.goBinary,
    inputs.fingerprint,
    inputs.mode,
    inputs.args,
    env,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * True for files `go build` reads from a tracee directory: Go sources other than tests, module
 * files, and the assembly, C and object files a package may carry. An allowlist, so editor
 * files, stray binaries and the lab's TypeScript helpers beside the sources never change the
 * key. (The tracees use no //go:embed; an embedded file would need adding here.)
 */
export function isBuildInput(relativePath: string): boolean {
  const parts = relativePath.split('/');
  if (parts.some((part) => part.startsWith('.') || part === 'testdata')) return false;
  const name = parts[parts.length - 1] ?? '';
  if (name === 'go.mod' || name === 'go.sum' || relativePath === 'vendor/modules.txt') return true;
  if (name.endsWith('_test.go')) return false;
  return /\.(?:go|s|S|c|h|syso)$/.test(name);
}

/**
 * A hex SHA-256 over the build inputs of `dir`: each file's relative path, length and bytes,
 * in sorted path order, so the digest is independent of directory listing order and mtimes.
 */
export async function hashSourceTree(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .filter(isBuildInput)
    .sort();
  const hash = createHash('sha256');
  for (const file of files) {
    const bytes = await readFile(path.join(dir, file));
    hash.update(`${file}\0${bytes.length}\0`).update(bytes);
  }
  return hash.digest('hex');
}
