/**
 * Finding the Go toolchains installed on this machine.
 *
 * Candidates come from GOLAB_GOROOTS, PATH, /usr/lib/go-* (Debian), /usr/local/go,
 * /usr/local/lib/go-* (the provision script's tarball installs) and ~/sdk/go* (golang.org/dl),
 * plus every gccgo driver on PATH. Each candidate is asked what it is (`go env`, `go version`,
 * `gccgo --version`), never guessed from its path, and candidates are deduplicated by their
 * resolved GOROOT (gc) or compiler driver (gccgo). Results are cached for the process.
 */
import { mkdtemp, readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { GolabError, ExitCode, tailLines } from '../errors.ts';
import type { Toolchain } from './types.ts';
import { distroFamily, installHint } from './install-hint.ts';
import { parseToolchainSpec, selectToolchain, toolchainOrder } from './spec.ts';
import {
  abiFor,
  formatGoVersion,
  parseGccgoVersionOutput,
  parseGoVersion,
  parseGoVersionOutput,
  parseReleaseTags,
  type GccgoVersion,
} from './version.ts';

/** Where discovery looks, for tests and for callers with their own environment. */
export interface DiscoverOptions {
  /** Environment to read PATH, HOME and GOLAB_GOROOTS from; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Directories searched for `go-*` GOROOTs; defaults to the well-known install places. */
  readonly searchRoots?: readonly string[];
  /** Ignore the in-process cache and look again. */
  readonly refresh?: boolean;
}

/** A candidate that was looked at and not used, and why. */
export interface SkippedCandidate {
  readonly path: string;
  readonly reason: string;
}

/** Everything discovery found, and what it passed over. */
export interface DiscoveryResult {
  /** gc toolchains by ascending version, then gccgo. */
  readonly toolchains: readonly Toolchain[];
  readonly skipped: readonly SkippedCandidate[];
}

/** Directories whose `go-*` entries are GOROOTs: Debian's packages and the tarball installs. */
export const DEFAULT_SEARCH_ROOTS: readonly string[] = ['/usr/lib', '/usr/local/lib'];

/**
 * A `go env`/`go version` that takes longer than this is reported as skipped. Generous: under
 * qemu's TCG (the kernel lab's guests) gccgo's go tool has taken over 30 s.
 */
const PROBE_TIMEOUT_MS = 120_000;

// Names on PATH that may be a go command: `go`, golang.org/dl wrappers such as `go1.22.3`,
// and gccgo's go tool `go-12` / `x86_64-linux-gnu-go-12`.
const GO_COMMAND_NAME = /^(?:go(?:\d+\.\d+(?:\.\d+)?(?:rc\d+|beta\d+)?)?|(?:x86_64-linux-gnu-)?go-\d+)$/;
// gccgo compiler drivers: `gccgo`, `gccgo-12`, `x86_64-linux-gnu-gccgo-12`.
const GCCGO_DRIVER_NAME = /^(?:x86_64-linux-gnu-)?gccgo(?:-\d+)?$/;

const discoveryCache = new Map<string, Promise<DiscoveryResult>>();
const probeCache = new Map<string, Promise<GoCommandProbe>>();

/** Forgets every cached discovery and probe (tests, or after installing a toolchain). */
export function clearToolchainCache(): void {
  discoveryCache.clear();
  probeCache.clear();
}

/** The toolchains on this machine, gc by ascending version, then gccgo. Cached per process. */
export async function discoverToolchains(options: DiscoverOptions = {}): Promise<readonly Toolchain[]> {
  return (await discoverToolchainsDetailed(options)).toolchains;
}

/** Like {@link discoverToolchains}, and also says which candidates were passed over and why. */
export function discoverToolchainsDetailed(options: DiscoverOptions = {}): Promise<DiscoveryResult> {
  const env = options.env ?? process.env;
  const roots = options.searchRoots ?? DEFAULT_SEARCH_ROOTS;
  const key = JSON.stringify([env.PATH, env.HOME, env.GOLAB_GOROOTS, roots]);
  let result = options.refresh ? undefined : discoveryCache.get(key);
  if (!result) {
    result = discover(env, roots);
    discoveryCache.set(key, result);
    // A failed discovery should not be remembered: the next call tries again.
    result.catch(() => discoveryCache.delete(key));
  }
  return result;
}

/**
 * The toolchain a spec names (`1.15`, `1.22`, `go1.22.3`, `gccgo`, `gccgo-12`); for a release
 * line, the newest patch release found. Throws GolabError TOOLCHAIN_MISSING, whose hint says
 * how to install it, or TOOLCHAIN_SPEC_INVALID.
 */
export async function findToolchain(spec: string, options: DiscoverOptions = {}): Promise<Toolchain> {
  const parsed = parseToolchainSpec(spec);
  const { toolchains } = await discoverToolchainsDetailed(options);
  const found = selectToolchain(toolchains, parsed);
  if (found) return found;
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const have = toolchains.map((toolchain) => toolchain.id).join(', ') || 'none';
  throw new GolabError('TOOLCHAIN_MISSING', `no Go toolchain matches "${spec}" (found: ${have})`, {
    hint: installHint(parsed, distroFamily(osRelease)),
    exitCode: ExitCode.environment,
  });
}

// ---------------------------------------------------------------------------------------------

/** What a `go` command said about itself. */
type GoCommandProbe =
  | { readonly kind: 'gc'; readonly goBinary: string; readonly goroot: string; readonly version: string; readonly fingerprint: string }
  | { readonly kind: 'gccgo-tool'; readonly goBinary: string; readonly gccgo: string; readonly languageVersion: string }
  | { readonly kind: 'failed'; readonly goBinary: string; readonly reason: string };

async function discover(env: NodeJS.ProcessEnv, roots: readonly string[]): Promise<DiscoveryResult> {
  // gccgo's go tool insists on a build cache even for `go list`: give the probes a throwaway one.
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'golab-discover-'));
  try {
    return await discoverIn({ ...env, GOLAB_PROBE_GOCACHE: scratch }, roots);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function discoverIn(env: NodeJS.ProcessEnv, roots: readonly string[]): Promise<DiscoveryResult> {
  const skipped: SkippedCandidate[] = [];
  const pathDirs = (env.PATH ?? '').split(':').filter((dir) => dir !== '');
  const home = env.HOME ?? os.homedir();

  // Priority order: what the user named first, then PATH, then the well-known places.
  const goCommands: string[] = [];
  for (const entry of (env.GOLAB_GOROOTS ?? '').split(':').filter((dir) => dir !== '')) {
    goCommands.push((await isFile(entry)) ? entry : path.join(entry, 'bin', 'go'));
  }
  const gccgoDrivers: string[] = [];
  for (const dir of pathDirs) {
    for (const name of await listDir(dir)) {
      if (GO_COMMAND_NAME.test(name)) goCommands.push(path.join(dir, name));
      if (GCCGO_DRIVER_NAME.test(name)) gccgoDrivers.push(path.join(dir, name));
    }
  }
  for (const root of roots) {
    for (const name of await listDir(root)) {
      if (/^go(?:-.+)?$/.test(name)) goCommands.push(path.join(root, name, 'bin', 'go'));
    }
  }
  goCommands.push('/usr/local/go/bin/go');
  for (const name of await listDir(path.join(home, 'sdk'))) {
    if (/^go\d/.test(name)) goCommands.push(path.join(home, 'sdk', name, 'bin', 'go'));
  }

  const existing = await uniqueExisting(goCommands);
  // At most one probe per core at a time: a dozen go commands started at once on a two-core
  // TCG guest all ran past the timeout together, and gccgo's went missing from the guest's list.
  const probes = await mapLimited(existing, os.availableParallelism(), (command) => probeGoCommand(command, env));

  const byRoot = new Map<string, Toolchain>();
  const ids = new Map<string, string>();
  const gccgoTools = new Map<string, Extract<GoCommandProbe, { kind: 'gccgo-tool' }>>();
  for (const probe of probes) {
    if (probe.kind === 'failed') {
      skipped.push({ path: probe.goBinary, reason: probe.reason });
      continue;
    }
    if (probe.kind === 'gccgo-tool') {
      const driver = await resolveCommand(probe.gccgo, pathDirs);
      if (driver) {
        gccgoDrivers.push(driver);
        const real = await realpath(driver);
        if (!gccgoTools.has(real)) gccgoTools.set(real, probe);
      }
      continue;
    }
    const root = await realpath(probe.goroot).catch(() => probe.goroot);
    if (byRoot.has(root)) continue; // the same GOROOT reached by another path
    const id = `go${probe.version}`;
    const earlier = ids.get(id);
    if (earlier !== undefined) {
      skipped.push({ path: probe.goBinary, reason: `same release as ${earlier}` });
      continue;
    }
    const version = parseGoVersion(probe.version);
    if (!version) {
      skipped.push({ path: probe.goBinary, reason: `unrecognised version "${probe.version}"` });
      continue;
    }
    ids.set(id, probe.goBinary);
    byRoot.set(root, {
      id,
      kind: 'gc',
      version: probe.version,
      goroot: probe.goroot,
      goBinary: probe.goBinary,
      abi: abiFor('gc', version),
      fingerprint: probe.fingerprint,
    });
  }

  const gccgos = new Map<string, Toolchain>();
  for (const driver of await uniqueExisting(gccgoDrivers)) {
    const real = await realpath(driver);
    if (gccgos.has(real)) continue;
    const toolchain = await gccgoToolchain(driver, real, gccgoTools, env, skipped);
    if (!toolchain) continue;
    if ([...gccgos.values()].some((other) => other.id === toolchain.id)) {
      skipped.push({ path: driver, reason: `same GCC major version as another ${toolchain.id}` });
      continue;
    }
    gccgos.set(real, toolchain);
  }

  const toolchains = [...byRoot.values(), ...gccgos.values()].sort(toolchainOrder);
  return { toolchains, skipped };
}

async function gccgoToolchain(
  driver: string,
  real: string,
  tools: Map<string, Extract<GoCommandProbe, { kind: 'gccgo-tool' }>>,
  env: NodeJS.ProcessEnv,
  skipped: SkippedCandidate[],
): Promise<Toolchain | undefined> {
  const versionRun = await run(driver, ['--version'], env);
  const gcc: GccgoVersion | undefined = versionRun.ok ? parseGccgoVersionOutput(versionRun.stdout) : undefined;
  if (!gcc) {
    skipped.push({ path: driver, reason: `\`${driver} --version\` did not print a GCC version: ${versionRun.message}` });
    return undefined;
  }
  let tool = tools.get(real);
  if (!tool) {
    // gccgo-N ships its go tool as go-N beside it (Debian, Ubuntu).
    for (const name of [`go-${gcc.gccMajor}`, `x86_64-linux-gnu-go-${gcc.gccMajor}`]) {
      const candidate = path.join(path.dirname(driver), name);
      if (!(await isFile(candidate))) continue;
      const probe = await probeGoCommand(candidate, env);
      if (probe.kind === 'gccgo-tool' && (await realpath(probe.gccgo).catch(() => '')) === real) tool = probe;
      if (tool) break;
    }
  }
  if (!tool) {
    skipped.push({ path: driver, reason: `no go tool drives it (install the go-${gcc.gccMajor} command of the gccgo-${gcc.gccMajor} package)` });
    return undefined;
  }
  const languageVersion = parseGoVersion(tool.languageVersion);
  if (!languageVersion) {
    skipped.push({ path: driver, reason: `its go tool reported no Go release tags` });
    return undefined;
  }
  return {
    id: `gccgo-${gcc.gccMajor}`,
    kind: 'gccgo',
    version: tool.languageVersion,
    goBinary: tool.goBinary,
    abi: abiFor('gccgo', languageVersion),
    gccgoBinary: real,
    compilerVersion: gcc.gccVersion,
    fingerprint: gcc.firstLine,
  };
}

/** Asks a go command what it is; cached per path for the life of the process. */
function probeGoCommand(goBinary: string, env: NodeJS.ProcessEnv): Promise<GoCommandProbe> {
  let probe = probeCache.get(goBinary);
  if (!probe) {
    probe = probeGoCommandUncached(goBinary, env);
    probeCache.set(goBinary, probe);
  }
  return probe;
}

async function probeGoCommandUncached(goBinary: string, env: NodeJS.ProcessEnv): Promise<GoCommandProbe> {
  // One `go env` answers most questions; Go 1.15 prints an empty line for GOVERSION (added in 1.16).
  const envRun = await run(goBinary, ['env', 'GOROOT', 'GOTOOLDIR', 'GCCGO', 'GOVERSION'], env);
  if (!envRun.ok) return { kind: 'failed', goBinary, reason: `\`go env\` failed: ${envRun.message}` };
  const [goroot = '', toolDir = '', gccgo = '', goVersion = ''] = envRun.stdout.split('\n').map((line) => line.trim());
  // gc keeps its compiler under $GOROOT/pkg/tool; gccgo's go tool points into GCC's libexec.
  if (goroot !== '' && toolDir.startsWith(path.join(goroot, 'pkg', 'tool') + path.sep)) {
    const versionRun = await run(goBinary, ['version'], env);
    const fingerprint = versionRun.ok ? versionRun.stdout.trim() : goVersion;
    const version = parseGoVersion(goVersion) ?? parseGoVersionOutput(fingerprint);
    if (!version) return { kind: 'failed', goBinary, reason: `no release version in "${fingerprint || goVersion}" (a development build?)` };
    return { kind: 'gc', goBinary, goroot, version: formatGoVersion(version), fingerprint };
  }
  if (gccgo === '') return { kind: 'failed', goBinary, reason: `neither gc (GOTOOLDIR=${toolDir}) nor gccgo` };
  // gccgo's go tool prints `go version unknown`; its release tags name the language version.
  const tagsRun = await run(goBinary, ['list', '-f', '{{context.ReleaseTags}}', 'runtime'], env);
  const languageVersion = tagsRun.ok ? parseReleaseTags(tagsRun.stdout) : undefined;
  if (!languageVersion) return { kind: 'failed', goBinary, reason: `gccgo go tool gave no release tags: ${tagsRun.message}` };
  return { kind: 'gccgo-tool', goBinary, gccgo, languageVersion: formatGoVersion(languageVersion) };
}

interface RunResult {
  readonly ok: boolean;
  readonly stdout: string;
  /** Why it failed, shortened; empty when it did not. */
  readonly message: string;
}

/**
 * Runs a toolchain command in a neutral place with a neutral environment: no GOROOT (each go
 * finds its own), no go.mod or go.work around it, no user GOENV file, and GOTOOLCHAIN=local so
 * Go ≥ 1.21 never tries to download another toolchain.
 */
async function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  const scratch = os.tmpdir();
  const result = await execa(file, args, {
    cwd: scratch,
    extendEnv: false,
    env: {
      PATH: env.PATH ?? '/usr/bin:/bin',
      HOME: env.HOME ?? scratch,
      GOTOOLCHAIN: 'local',
      GOENV: 'off',
      GOFLAGS: '',
      GO111MODULE: 'off',
      GOWORK: 'off',
      GOCACHE: env.GOLAB_PROBE_GOCACHE ?? path.join(scratch, 'golab-probe-gocache'),
      LANG: 'C',
    },
    reject: false,
    timeout: PROBE_TIMEOUT_MS,
    stdin: 'ignore',
  });
  const ok = !result.failed;
  const message = ok ? '' : tailLines(`${result.shortMessage}\n${result.stderr}`.trim(), 3);
  return { ok, stdout: String(result.stdout), message };
}

/** `items.map(work)`, with at most `limit` calls of `work` running at once; results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  } catch {
    return [];
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Keeps the first occurrence of each existing file, in order. */
async function uniqueExisting(files: readonly string[]): Promise<string[]> {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const file of files) {
    if (seen.has(file)) continue;
    seen.add(file);
    if (await isFile(file)) kept.push(file);
  }
  return kept;
}

/** An absolute path for a command name, looked up on PATH when it has no slash. */
async function resolveCommand(command: string, pathDirs: readonly string[]): Promise<string | undefined> {
  if (command.includes('/')) return (await isFile(command)) ? command : undefined;
  for (const dir of pathDirs) {
    const candidate = path.join(dir, command);
    if (await isFile(candidate)) return candidate;
  }
  return undefined;
}
