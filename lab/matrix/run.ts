/**
 * The whole matrix: every toolchain × build mode × kernel.
 *
 * Speed (the host matrix of every installed toolchain must fit in 3 minutes on 2 cores):
 * - every tracee is built (or found in lab/toolchain's content-addressed cache) up front;
 * - cells run toolchain by toolchain, so a toolchain's default, PIE and stripped builds — whose
 *   generated programs are equal — share one compiled BCC module through a {@link ModuleCache};
 * - uprobes attach as uprobe-multi links where the kernel has them (perf-event uprobes detach
 *   one by one under the kernel's event_mutex, ~0.1 s each); a cell's links are closed in the
 *   background once its zoo has exited, while the next cell plans, and that cell waits for them
 *   only before it starts a process; every detach is awaited once more at the end.
 *
 * A VM kernel runs this same matrix (`golab matrix --kernels host --json-out …`) inside
 * `golab vm`'s runner, on the binaries the host built into the shared cache; its cells are then
 * merged with the kernel's line as their kernel.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeCapabilities, lockdownMode, type KernelCapabilities } from '../bcc/capabilities.ts';
import { hostReport } from '../bcc/host.ts';
import { ModuleCache } from '../probe/session.ts';
import { buildAllSettled, type BuildRequest, type BuildResult } from '../toolchain/build.ts';
import type { BuildMode, Toolchain } from '../toolchain/types.ts';
import { ZOO_FUNCTIONS } from '../../tracee/zoo/signatures.ts';
import { runCell, zooSymbolFor } from './cell.ts';
import { sameForAll } from './classify.ts';
import { countStatuses } from './summary.ts';
import type { KernelInfo, MatrixCell, MatrixReport, StatusCounts, ToolchainInfo } from './types.ts';

/** The kernel name of the running kernel's column. */
export const HOST_KERNEL = 'host';

/** What the matrix reports while it works. */
export type MatrixProgress =
  | { readonly kind: 'build'; readonly done: number; readonly total: number; readonly label: string }
  | { readonly kind: 'kernel-start'; readonly kernel: string; readonly total: number; readonly label: string }
  | {
      readonly kind: 'cell';
      readonly kernel: string;
      readonly done: number;
      readonly total: number;
      readonly label: string;
      readonly counts?: StatusCounts;
      readonly durationMs?: number;
    }
  | { readonly kind: 'kernel-done'; readonly kernel: string; readonly durationMs: number; readonly error?: string }
  | { readonly kind: 'message'; readonly kernel?: string; readonly text: string };

/** Options of {@link runMatrix}. */
export interface MatrixOptions {
  readonly toolchains: readonly Toolchain[];
  readonly modes: readonly BuildMode[];
  /** `host` and/or VM kernel lines (`6.1`, `7`). */
  readonly kernels: readonly string[];
  readonly onProgress?: (progress: MatrixProgress) => void;
  /** The command line recorded in the report. */
  readonly command?: string;
  /** Limit for each VM kernel's whole run (boot, BCC compiles under TCG, every cell). */
  readonly vmTimeoutMs?: number;
  /** How uprobes attach on the host: `auto` (links where the kernel has them; default) or `perf`. */
  readonly attach?: 'perf' | 'auto';
}

/** The report's view of a toolchain. */
export function toolchainInfo(toolchain: Toolchain): ToolchainInfo {
  return { id: toolchain.id, kind: toolchain.kind, version: toolchain.version, abi: toolchain.abi };
}

const buildKey = (toolchain: Toolchain, mode: BuildMode) => `${toolchain.id}/${mode}`;

/** Builds every zoo binary the cells need (stripped cells also need the default build for DWARF). */
export async function buildZoos(
  toolchains: readonly Toolchain[],
  modes: readonly BuildMode[],
  onProgress: (progress: MatrixProgress) => void = () => {},
): Promise<{ built: Map<string, BuildResult>; failed: Map<string, string> }> {
  const wanted = new Set<BuildMode>(modes.includes('stripped') ? [...modes, 'default'] : modes);
  const requests: BuildRequest[] = toolchains.flatMap((toolchain) => [...wanted].map((mode) => ({ tracee: 'zoo', toolchain, mode })));
  let done = 0;
  onProgress({ kind: 'build', done, total: requests.length, label: 'building zoo tracees' });
  const outcomes = await buildAllSettled(requests, {
    onBuilt: (result) =>
      onProgress({ kind: 'build', done: ++done, total: requests.length, label: `${result.toolchain.id} ${result.mode}${result.cached ? ' (cached)' : ''}` }),
  });
  const built = new Map<string, BuildResult>();
  const failed = new Map<string, string>();
  for (const outcome of outcomes) {
    const key = buildKey(outcome.request.toolchain, outcome.request.mode);
    if (outcome.ok) built.set(key, outcome.result);
    else failed.set(key, `${outcome.error.code}: ${outcome.error.message}`);
  }
  return { built, failed };
}

/** Every function of a cell with the same check result (a cell that could not run). */
function wholeCell(toolchain: Toolchain, mode: BuildMode, kernel: string, status: 'fail' | 'unsupported', reason: string): MatrixCell {
  return {
    toolchain: toolchainInfo(toolchain),
    mode,
    kernel,
    functions: ZOO_FUNCTIONS.map((zoo) => ({ func: zoo.func, symbol: zooSymbolFor(zoo, toolchain), checks: sameForAll({ status, reason }) })),
    durationMs: 0,
    error: reason,
  };
}

function kernelCapabilities(capabilities: KernelCapabilities): KernelInfo['capabilities'] {
  const pick = (c: { ok: boolean; reason: string }) => ({ ok: c.ok, reason: c.reason });
  return {
    uprobeRead: pick(capabilities.uprobeRead),
    probeWriteUser: pick(capabilities.probeWriteUser),
    ctxRegisterWrite: pick(capabilities.ctxRegisterWrite),
  };
}

/** Runs every cell on the running kernel. */
export async function runHostCells(
  toolchains: readonly Toolchain[],
  modes: readonly BuildMode[],
  builds: { built: Map<string, BuildResult>; failed: Map<string, string> },
  onProgress: (progress: MatrixProgress) => void = () => {},
  kernelName = HOST_KERNEL,
  attach: 'perf' | 'auto' = 'auto',
): Promise<{ kernel: KernelInfo; cells: MatrixCell[] }> {
  const started = Date.now();
  const capabilities = await probeCapabilities();
  const total = toolchains.length * modes.length;
  onProgress({ kind: 'kernel-start', kernel: kernelName, total, label: `${hostReport().kernel}` });
  const cells: MatrixCell[] = [];
  const detaches: Promise<void>[] = [];
  const modules = new ModuleCache();
  try {
    for (const toolchain of toolchains) {
      for (const mode of modes) {
        const cellStarted = Date.now();
        const build = builds.built.get(buildKey(toolchain, mode));
        const twin = builds.built.get(buildKey(toolchain, 'default'));
        let cell: MatrixCell;
        if (!build || (mode === 'stripped' && !twin)) {
          const why = builds.failed.get(buildKey(toolchain, mode)) ?? builds.failed.get(buildKey(toolchain, 'default')) ?? 'not built';
          cell = wholeCell(toolchain, mode, kernelName, 'fail', `build failed: ${why}`);
        } else {
          const output = await runCell({
            toolchain,
            mode,
            binary: build.path,
            ...(mode === 'stripped' ? { typesFrom: twin!.path } : {}),
            capabilities,
            modules,
            attach,
            ...(detaches.length > 0 ? { settled: detaches.at(-1)!.catch(() => undefined) } : {}),
          });
          detaches.push(output.detached);
          cell = {
            toolchain: toolchainInfo(toolchain),
            mode,
            kernel: kernelName,
            functions: output.functions,
            durationMs: Date.now() - cellStarted,
            ...(output.error ? { error: output.error } : {}),
            ...(output.timings ? { timings: output.timings } : {}),
          };
        }
        cells.push(cell);
        onProgress({
          kind: 'cell',
          kernel: kernelName,
          done: cells.length,
          total,
          label: `${toolchain.id} ${mode}`,
          counts: countStatuses([cell]),
          durationMs: cell.durationMs,
        });
      }
    }
  } finally {
    // Modules may be freed only after the perf events using their programs are closed.
    await Promise.allSettled(detaches);
    modules.dispose();
  }
  const host = hostReport();
  const durationMs = Date.now() - started;
  onProgress({ kind: 'kernel-done', kernel: kernelName, durationMs });
  return {
    kernel: {
      name: kernelName,
      release: host.kernel,
      lockdown: lockdownMode(),
      capabilities: kernelCapabilities(capabilities),
      durationMs,
    },
    cells,
  };
}

/** Where VM runs leave their reports: inside the lab cache, which the guest shares read-write. */
function vmResultsDir(cacheRoot: string): string {
  return join(cacheRoot, 'matrix', `${process.pid}-${Date.now().toString(36)}`);
}

/** Runs the matrix inside a VM kernel and returns its cells under that kernel's name. */
export async function runVmKernel(
  line: string,
  toolchains: readonly Toolchain[],
  modes: readonly BuildMode[],
  onProgress: (progress: MatrixProgress) => void = () => {},
  timeoutMs = 90 * 60_000,
): Promise<{ kernel: KernelInfo; cells: MatrixCell[] }> {
  const started = Date.now();
  // Loaded lazily: a host-only matrix (and the guest's own run) never needs the VM code.
  const { runInVm, PROJECT_ROOT } = await import('../vm/runner.ts');
  const { cacheRoot } = await import('../vm/kernels.ts');
  const dir = vmResultsDir(cacheRoot());
  mkdirSync(dir, { recursive: true });
  const jsonFile = join(dir, `${line}.json`);
  const progressFile = join(dir, `${line}.progress`);
  // The guest takes the host's toolchains as they are: discovering them again runs a dozen go
  // commands at once, which under TCG outlast discovery's timeouts; and with the same toolchain
  // records the guest's build-cache keys equal the host's, so it reuses the host's binaries.
  const toolchainsFile = join(dir, 'toolchains.json');
  writeFileSync(toolchainsFile, JSON.stringify(toolchains));
  const total = toolchains.length * modes.length;
  onProgress({ kind: 'kernel-start', kernel: line, total, label: `VM kernel ${line}` });
  let lastProgress = '';
  const poll = setInterval(() => {
    if (!existsSync(progressFile)) return;
    const lines = readFileSync(progressFile, 'utf8').trim().split('\n');
    const last = lines.at(-1) ?? '';
    if (last === '' || last === lastProgress) return;
    lastProgress = last;
    try {
      const progress = JSON.parse(last) as MatrixProgress;
      if (progress.kind === 'cell') onProgress({ ...progress, kernel: line });
      else if (progress.kind === 'build') onProgress({ kind: 'message', kernel: line, text: `guest: ${progress.label}` });
    } catch {
      // A line caught half-written: the next poll reads it whole.
    }
  }, 1000);
  try {
    const run = await runInVm({
      kernel: line,
      command: [
        'node',
        'bin/golab.mjs',
        'matrix',
        '--kernels',
        HOST_KERNEL,
        '--toolchains-file',
        toolchainsFile,
        // Perf events in guests: in a 6.1 guest the matrix process died with SIGSEGV twice after
        // the link attempt fell back (never with perf events, never under gdb); speed does not
        // matter there as it does on the host.
        '--attach',
        'perf',
        '--modes',
        modes.join(','),
        '--json-out',
        jsonFile,
        '--progress-file',
        progressFile,
      ],
      cwd: PROJECT_ROOT,
      timeoutMs,
      onProgress: (text) => onProgress({ kind: 'message', kernel: line, text }),
    });
    if (!existsSync(jsonFile)) {
      const tail = `${run.stderr}\n${run.stdout}`.trim().split('\n').slice(-5).join(' | ');
      throw new Error(`the guest wrote no report (exit ${run.exitCode}): ${tail}`);
    }
    const report = JSON.parse(readFileSync(jsonFile, 'utf8')) as MatrixReport;
    const guest = report.kernels[0];
    const durationMs = Date.now() - started;
    onProgress({ kind: 'kernel-done', kernel: line, durationMs });
    return {
      kernel: {
        name: line,
        release: guest?.release ?? run.kernel.release,
        lockdown: guest?.lockdown ?? 'unknown',
        capabilities: guest?.capabilities ?? unknownCapabilities('the guest reported none'),
        durationMs,
      },
      cells: report.cells.map((cell) => ({ ...cell, kernel: line })),
    };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    const durationMs = Date.now() - started;
    onProgress({ kind: 'kernel-done', kernel: line, durationMs, error: why });
    return {
      kernel: { name: line, release: 'unknown', lockdown: 'unknown', capabilities: unknownCapabilities(why), durationMs, error: why },
      cells: toolchains.flatMap((toolchain) => modes.map((mode) => wholeCell(toolchain, mode, line, 'fail', `VM kernel ${line}: ${why}`))),
    };
  } finally {
    clearInterval(poll);
    rmSync(dir, { recursive: true, force: true });
  }
}

function unknownCapabilities(reason: string): KernelInfo['capabilities'] {
  const unknown = { ok: false, reason };
  return { uprobeRead: unknown, probeWriteUser: unknown, ctxRegisterWrite: unknown };
}

/** Runs the whole matrix: builds, the host's cells, then each VM kernel's. */
export async function runMatrix(options: MatrixOptions): Promise<MatrixReport> {
  const started = Date.now();
  const createdAt = new Date(started).toISOString();
  const progress = options.onProgress ?? (() => {});
  const builds = await buildZoos(options.toolchains, options.modes, progress);
  const buildMs = Date.now() - started;
  const kernels: KernelInfo[] = [];
  const cells: MatrixCell[] = [];
  for (const kernel of options.kernels) {
    const part =
      kernel === HOST_KERNEL
        ? await runHostCells(options.toolchains, options.modes, builds, progress, HOST_KERNEL, options.attach)
        : await runVmKernel(kernel, options.toolchains, options.modes, progress, options.vmTimeoutMs);
    kernels.push(part.kernel);
    cells.push(...part.cells);
  }
  return {
    schema: 'go-ebpf-lab/matrix@1',
    createdAt,
    command: options.command ?? 'golab matrix',
    durationMs: Date.now() - started,
    buildMs,
    toolchains: options.toolchains.map(toolchainInfo),
    modes: [...options.modes],
    kernels,
    cells,
    totals: countStatuses(cells),
  };
}
