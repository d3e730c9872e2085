/**
 * Building tracees per toolchain and build mode, through a content-addressed cache.
 *
 * Each build runs `go build` (gc) or gccgo's own go tool (gccgo) into a temporary file beside
 * its final place, then hard-links it into place: link(2) fails if the name exists, so a
 * binary appears whole or not at all, and two processes building the same key both succeed
 * with one winner. A cached binary is reused when its key — a hash of the tracee's sources,
 * the toolchain, the mode, the arguments and the environment that matters — is unchanged.
 *
 * Environment decisions:
 * - GOTOOLCHAIN=local: Go ≥ 1.21 would otherwise try to download a toolchain a go.mod asks for.
 * - GOFLAGS=-mod=mod, GO111MODULE=on: module mode everywhere, Go 1.15 included, no vendor.
 * - GOENV=off, GOWORK=off, GOPROXY=off: no user go env file or workspace leaks in, and a
 *   missing dependency fails at once instead of waiting on a network this lab may not have.
 * - GOCACHE per toolchain under the cache directory: toolchains never trim each other's cache.
 * - CGO_ENABLED=0 for gc: the tracees are pure Go, so the binaries are static (default mode),
 *   need no libc in a container or a VM's initramfs, and builds need no C compiler.
 *   CGO_ENABLED=1 for gccgo: gccgo is itself the C toolchain and always links libgo and libc.
 * - -buildvcs=false (go tools ≥ 1.18): the tracees live in a git work tree; stamping its state
 *   would make the binary depend on uncommitted edits elsewhere and fail where git refuses.
 *
 * gccgo is driven through its own go tool (go-12) rather than by calling gccgo-12 directly,
 * so build constraints (including the `gccgo` tag), module mode and multi-file packages behave
 * as they do for gc. Its default -O2 is overridden with `-gccgoflags=-g -O1`: at -O2 GCC's
 * interprocedural constant propagation clones `main.ebpfDemo` (always called with constants)
 * into `main.ebpfDemo.constprop.0` with the arguments folded away, so the function the lab
 * traces no longer exists with its real signature. gccgo's go tool ignores `-ldflags=-s -w`,
 * so stripping is `-s` in -gccgoflags; `-buildmode=pie` makes it compile with -fPIE and link
 * with -pie (Debian's GCC produces PIE by default anyway).
 *
 * Tests of the binary readers also need shapes the matrix does not build (stripped PIE, PIE
 * linked by the C linker, gccgo at -O0 for the DWARF cross-check, gccgo with CET): a request's
 * {@link BuildTweaks} adds those, through this same cache, instead of a second builder.
 */
import { link, mkdir, realpath, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { GolabError, ExitCode, tailLines } from '../errors.ts';
import { buildCacheKey, hashSourceTree } from './cache-key.ts';
import type { BuildMode, BuildTweaks, Toolchain } from './types.ts';
import { compareGoVersions, parseGoVersion } from './version.ts';

/** The tracees this repository ships, by name (directories under tracee/). */
export type TraceeName = 'seed' | 'zoo';

/** One binary to build. */
export interface BuildRequest {
  /** A tracee name (`seed`, `zoo`) or an absolute path to a Go main-package directory. */
  readonly tracee: TraceeName | string;
  readonly toolchain: Toolchain;
  readonly mode: BuildMode;
  /** Settings beyond the mode, for the readers' tests; the matrix leaves this unset. */
  readonly tweaks?: BuildTweaks;
}

/** A built (or reused) binary. */
export interface BuildResult {
  /** Absolute path of the executable. Never rewritten once it exists. */
  readonly path: string;
  /** The tracee's name (its directory's base name). */
  readonly tracee: string;
  readonly toolchain: Toolchain;
  readonly mode: BuildMode;
  /** True when the binary came from the cache without running a build. */
  readonly cached: boolean;
  /** The content-addressed cache key (hex SHA-256). */
  readonly key: string;
}

/** Options shared by {@link buildTracee} and {@link buildAll}. */
export interface BuildOptions {
  /** Cache directory; defaults to GOLAB_CACHE, else /var/cache/go-ebpf-lab/builds. */
  readonly cacheDir?: string;
  /** Aborts running builds (the go process is killed) and stops starting new ones. */
  readonly signal?: AbortSignal;
}

/** Options of {@link buildAll}. */
export interface BuildAllOptions extends BuildOptions {
  /** How many builds run at once; defaults to os.availableParallelism(). */
  readonly concurrency?: number;
  /** Called as each build finishes, for progress displays. */
  readonly onBuilt?: (result: BuildResult, index: number) => void;
}

/** The outcome of one request in {@link buildAllSettled}. */
export type BuildOutcome =
  | { readonly ok: true; readonly request: BuildRequest; readonly result: BuildResult }
  | { readonly ok: false; readonly request: BuildRequest; readonly error: GolabError };

/** The repository's tracee/ directory. */
export const TRACEE_ROOT = fileURLToPath(new URL('../../tracee/', import.meta.url));

/** Where builds are cached unless GOLAB_CACHE says otherwise. */
export const DEFAULT_CACHE_DIR = '/var/cache/go-ebpf-lab/builds';

const BUILD_TIMEOUT_MS = 10 * 60_000;

/** The build cache directory for `env`: GOLAB_CACHE, else {@link DEFAULT_CACHE_DIR}. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.GOLAB_CACHE !== undefined && env.GOLAB_CACHE !== '' ? path.resolve(env.GOLAB_CACHE) : DEFAULT_CACHE_DIR;
}

/** The source directory of a tracee: tracee/<name>, or the absolute path itself. */
export function traceeDir(tracee: string): string {
  return path.isAbsolute(tracee) ? tracee : path.join(TRACEE_ROOT, tracee);
}

/** The `go build` arguments for a toolchain, mode and tweaks, without `-o`. Pure. */
export function buildArguments(toolchain: Toolchain, mode: BuildMode, tweaks: BuildTweaks = {}): string[] {
  const args = ['build'];
  // gccgo's go tool is Go 1.18's cmd/go; its `version` field is the language version, 1.18.
  if (goToolAtLeast(toolchain, 1, 18)) args.push('-buildvcs=false');
  const strip = mode === 'stripped' || (mode === 'pie' && tweaks.strip === true);
  if (toolchain.kind === 'gccgo') {
    const flags = ['-g', `-O${tweaks.gccgoOptimization ?? 1}`, ...(strip ? ['-s'] : []), ...(tweaks.gccgoFlags ?? [])];
    args.push(`-gccgoflags=${flags.join(' ')}`);
    if (mode === 'pie') args.push('-buildmode=pie');
    return args;
  }
  if (mode === 'pie') args.push('-buildmode=pie');
  const ldflags = [...(tweaks.externalLink ? ['-linkmode=external'] : []), ...(strip ? ['-s', '-w'] : [])];
  if (ldflags.length > 0) args.push(`-ldflags=${ldflags.join(' ')}`);
  return args;
}

/** The variables that shape a build (and so enter its cache key). Pure. */
export function buildSettings(toolchain: Toolchain, tweaks: BuildTweaks = {}): Record<string, string> {
  return {
    GO111MODULE: 'on',
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    GOENV: 'off',
    GOWORK: 'off',
    GOPROXY: 'off',
    CGO_ENABLED: toolchain.kind === 'gccgo' || tweaks.externalLink === true ? '1' : '0',
  };
}

/**
 * The whole environment of a build: {@link buildSettings} plus PATH, HOME (the cache directory
 * when unset), TMPDIR, and per-toolchain GOCACHE and shared GOPATH under the cache directory.
 * Nothing else is inherited, so a user's GOROOT, GOARCH or GOEXPERIMENT cannot change a binary
 * behind the cache's back. Pure.
 */
export function buildEnvironment(toolchain: Toolchain, cacheDir: string, env: NodeJS.ProcessEnv = process.env, tweaks: BuildTweaks = {}): Record<string, string> {
  const result: Record<string, string> = {
    PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: env.HOME ?? cacheDir,
    LANG: 'C',
    GOCACHE: path.join(cacheDir, 'gocache', toolchain.id),
    GOPATH: path.join(cacheDir, 'gopath'),
    ...buildSettings(toolchain, tweaks),
  };
  if (env.TMPDIR !== undefined) result.TMPDIR = env.TMPDIR;
  return result;
}

// Builds of one key in flight in this process, so concurrent requests share one `go build`.
const inFlight = new Map<string, Promise<BuildResult>>();

/**
 * Builds one tracee with one toolchain in one mode, or returns the cached binary.
 * Throws GolabError BUILD_FAILED (with the compiler output as detail), TRACEE_MISSING or
 * BUILD_CACHE_UNWRITABLE.
 */
export function buildTracee(request: BuildRequest, options: BuildOptions = {}): Promise<BuildResult> {
  return buildOne(request, options, new Map());
}

/** Source digests by directory, so one buildAll hashes each tracee once and sees one snapshot. */
type DigestMemo = Map<string, Promise<string>>;

async function buildOne(request: BuildRequest, options: BuildOptions, digests: DigestMemo): Promise<BuildResult> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const sourceDir = traceeDir(request.tracee);
  const name = path.basename(sourceDir);
  let sourceDigest: string;
  try {
    let digest = digests.get(sourceDir);
    if (!digest) {
      digest = hashSourceTree(sourceDir);
      digests.set(sourceDir, digest);
    }
    sourceDigest = await digest;
  } catch (error) {
    throw new GolabError('TRACEE_MISSING', `cannot read tracee sources in ${sourceDir}`, {
      hint: 'name a tracee under tracee/ (seed, zoo) or an absolute directory with a Go main package',
      exitCode: ExitCode.usage,
      cause: error,
    });
  }
  const { toolchain, mode } = request;
  const tweaks = request.tweaks ?? {};
  const args = buildArguments(toolchain, mode, tweaks);
  const key = buildCacheKey({
    sourceDigest,
    toolchainId: toolchain.id,
    // Resolved, so /bin/go-12 and /usr/bin/go-12 (merged /usr) share entries.
    goBinary: await realpath(toolchain.goBinary).catch(() => toolchain.goBinary),
    fingerprint: toolchain.fingerprint,
    mode,
    args,
    env: buildSettings(toolchain, tweaks),
  });
  const entryDir = path.join(cacheDir, `${name}-${toolchain.id}-${mode}-${key.slice(0, 16)}`);
  const binary = path.join(entryDir, name);
  const base: Omit<BuildResult, 'cached'> = { path: binary, tracee: name, toolchain, mode, key };

  if (await isExecutable(binary)) return { ...base, cached: true };
  let pending = inFlight.get(binary);
  if (!pending) {
    pending = runBuild(sourceDir, entryDir, binary, args, buildEnvironment(toolchain, cacheDir, process.env, tweaks), base, options.signal);
    inFlight.set(binary, pending);
    void pending.then(
      () => inFlight.delete(binary),
      () => inFlight.delete(binary),
    );
  }
  return pending;
}

async function runBuild(
  sourceDir: string,
  entryDir: string,
  binary: string,
  args: readonly string[],
  env: Record<string, string>,
  base: Omit<BuildResult, 'cached'>,
  signal: AbortSignal | undefined,
): Promise<BuildResult> {
  try {
    await mkdir(entryDir, { recursive: true });
    await mkdir(env.GOCACHE ?? entryDir, { recursive: true });
  } catch (error) {
    throw new GolabError('BUILD_CACHE_UNWRITABLE', `cannot create the build cache ${path.dirname(entryDir)}`, {
      hint: 'run as root, or point GOLAB_CACHE at a writable directory',
      exitCode: ExitCode.environment,
      cause: error,
    });
  }
  const temporary = path.join(entryDir, `.${path.basename(binary)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const result = await execa(base.toolchain.goBinary, [...args, '-o', temporary, '.'], {
      cwd: sourceDir,
      env,
      extendEnv: false,
      reject: false,
      all: true,
      stdin: 'ignore',
      timeout: BUILD_TIMEOUT_MS,
      ...(signal ? { cancelSignal: signal } : {}),
    });
    if (result.failed) {
      throw new GolabError(
        'BUILD_FAILED',
        `building ${base.tracee} with ${base.toolchain.id} (${base.mode}) failed: ${result.shortMessage}`,
        {
          detail: tailLines(String(result.all ?? ''), 40),
          hint: `reproduce with: cd ${sourceDir} && ${base.toolchain.goBinary} ${args.join(' ')} -o /tmp/out .`,
          exitCode: result.isCanceled ? ExitCode.interrupted : ExitCode.environment,
        },
      );
    }
    try {
      await link(temporary, binary);
    } catch (error) {
      // Another process finished the same key first: its binary is as good as ours.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    return { ...base, cached: false };
  } finally {
    await rm(temporary, { force: true });
  }
}

/**
 * Builds every request, at most `concurrency` at a time (one per toolchain), and returns the
 * results in request order. On the first failure it starts no more builds, waits for the running ones, and throws
 * that failure.
 */
export async function buildAll(requests: readonly BuildRequest[], options: BuildAllOptions = {}): Promise<BuildResult[]> {
  const outcomes = await runPool(requests, options, true);
  const failed = outcomes.find((outcome) => outcome && !outcome.ok);
  if (failed && !failed.ok) throw failed.error;
  return outcomes.map((outcome) => (outcome as Extract<BuildOutcome, { ok: true }>).result);
}

/**
 * Like {@link buildAll}, but builds everything it can and reports each request's outcome,
 * so a matrix can mark the cells whose build failed and go on with the rest.
 */
export async function buildAllSettled(requests: readonly BuildRequest[], options: BuildAllOptions = {}): Promise<BuildOutcome[]> {
  return (await runPool(requests, options, false)).map((outcome) => outcome!);
}

async function runPool(
  requests: readonly BuildRequest[],
  options: BuildAllOptions,
  stopOnFailure: boolean,
): Promise<(BuildOutcome | undefined)[]> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? os.availableParallelism()));
  const outcomes: (BuildOutcome | undefined)[] = new Array(requests.length);
  // Parallel across toolchains, serial within one: two go processes sharing a GOCACHE both
  // compile the same standard-library packages when they start together (cmd/go does not share
  // in-progress work between processes), so a toolchain's second build waits for its first and
  // then finds the standard library cached.
  const groups = new Map<string, number[]>();
  requests.forEach((request, index) => {
    const group = groups.get(request.toolchain.id);
    if (group) group.push(index);
    else groups.set(request.toolchain.id, [index]);
  });
  const queue = [...groups.values()];
  const digests: DigestMemo = new Map();
  let stop = false;
  const worker = async (): Promise<void> => {
    for (let group = queue.shift(); group !== undefined; group = queue.shift()) {
      for (const index of group) {
        if (stop || options.signal?.aborted) return;
        const request = requests[index]!;
        try {
          const result = await buildOne(request, options, digests);
          outcomes[index] = { ok: true, request, result };
          options.onBuilt?.(result, index);
        } catch (error) {
          outcomes[index] = { ok: false, request, error: asGolabError(error, request) };
          if (stopOnFailure) stop = true;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  if (options.signal?.aborted && outcomes.some((outcome) => outcome === undefined)) {
    throw new GolabError('BUILD_ABORTED', 'builds were interrupted', { exitCode: ExitCode.interrupted });
  }
  return outcomes;
}

function asGolabError(error: unknown, request: BuildRequest): GolabError {
  if (error instanceof GolabError) return error;
  return new GolabError('BUILD_FAILED', `building ${request.tracee} with ${request.toolchain.id} (${request.mode}) failed`, {
    cause: error,
    detail: error instanceof Error ? error.message : String(error),
    exitCode: ExitCode.environment,
  });
}

function goToolAtLeast(toolchain: Toolchain, major: number, minor: number): boolean {
  const version = parseGoVersion(toolchain.version);
  return version !== undefined && compareGoVersions(version, { major, minor }) >= 0;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    const info = await stat(file);
    return info.isFile() && (info.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}
