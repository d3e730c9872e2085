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
  /** The host kernel's column, as soon as its capabilities are probed (for `--cells-out`). */
  readonly onKernel?: (kernel: KernelInfo) => void;
  /** Each host cell as it finishes (for `--cells-out`). */
  readonly onCell?: (cell: MatrixCell) => void;
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

/** Options of {@link runHostCells}. */
export interface HostCellsOptions {
  readonly onProgress?: (progress: MatrixProgress) => void;
  /** How uprobes attach: `auto` (links where the kernel has them) or `perf`. */
  readonly attach?: 'perf' | 'auto';
  /** Called with the kernel (capabilities probed) before the first cell, and with each cell as it finishes. */
  readonly onKernel?: (kernel: KernelInfo) => void;
  readonly onCell?: (cell: MatrixCell) => void;
}

/** Runs every cell on the running kernel. */
export async function runHostCells(
  toolchains: readonly Toolchain[],
  modes: readonly BuildMode[],
  builds: { built: Map<string, BuildResult>; failed: Map<string, string> },
  options: HostCellsOptions = {},
): Promise<{ kernel: KernelInfo; cells: MatrixCell[] }> {
  const onProgress = options.onProgress ?? (() => {});
  const attach = options.attach ?? 'auto';
  const kernelName = HOST_KERNEL;
  const started = Date.now();
  const capabilities = await probeCapabilities();
  const total = toolchains.length * modes.length;
  onProgress({ kind: 'kernel-start', kernel: kernelName, total, label: `${hostReport().kernel}` });
  options.onKernel?.({
    name: kernelName,
    release: hostReport().kernel,
    lockdown: lockdownMode(),
    capabilities: kernelCapabilities(capabilities),
    durationMs: 0,
  });
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
        options.onCell?.(cell);
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

/** One line of a `--cells-out` file: the kernel's column, or a finished cell. */
export type CellsFileLine = { readonly kernel: KernelInfo } | { readonly cell: MatrixCell };

/** Boots of one VM kernel before its missing cells are given up. */
const VM_ATTEMPTS = 3;

/**
 * Runs the matrix inside a VM kernel and returns its cells under that kernel's name.
 *
 * The guest appends each cell to a file as it finishes. If the guest dies before the end (node
 * was seen to die of SIGSEGV now and then in 6.1 guests under TCG), the toolchains whose cells
 * are missing run again in a new boot, up to {@link VM_ATTEMPTS} boots; what never ran is a
 * `fail` naming the guest's last words.
 */
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
  const cellsFile = join(dir, `${line}.cells.jsonl`);
  const progressFile = join(dir, `${line}.progress`);
  const total = toolchains.length * modes.length;
  onProgress({ kind: 'kernel-start', kernel: line, total, label: `VM kernel ${line}` });
  const cells = new Map<string, MatrixCell>();
  let guestKernel: KernelInfo | undefined;
  let lastProgress = '';
  const readCells = () => {
    if (!existsSync(cellsFile)) return;
    for (const text of readFileSync(cellsFile, 'utf8').split('\n')) {
      if (text.trim() === '') continue;
      let entry: CellsFileLine;
      try {
        entry = JSON.parse(text) as CellsFileLine;
      } catch {
        continue; // the line the guest was writing when it died
      }
      if ('kernel' in entry) guestKernel = entry.kernel;
      else cells.set(`${entry.cell.toolchain.id}/${entry.cell.mode}`, { ...entry.cell, kernel: line });
    }
  };
  const poll = setInterval(() => {
    if (!existsSync(progressFile)) return;
    const last = readFileSync(progressFile, 'utf8').trim().split('\n').at(-1) ?? '';
    if (last === '' || last === lastProgress) return;
    lastProgress = last;
    try {
      const progress = JSON.parse(last) as MatrixProgress;
      if (progress.kind === 'cell') onProgress({ ...progress, kernel: line, done: cells.size + progress.done, total });
      else if (progress.kind === 'build') onProgress({ kind: 'message', kernel: line, text: `guest: ${progress.label}` });
    } catch {
      // A line caught half-written: the next poll reads it whole.
    }
  }, 1000);
  const problems: string[] = [];
  try {
    for (let attempt = 1; attempt <= VM_ATTEMPTS; attempt++) {
      const remaining = toolchains.filter((t) => modes.some((mode) => !cells.has(`${t.id}/${mode}`)));
      if (remaining.length === 0) break;
      if (attempt > 1) onProgress({ kind: 'message', kernel: line, text: `boot ${attempt}: ${remaining.length} toolchains left after: ${problems.at(-1)}` });
      // The guest takes the host's toolchains as they are: discovering them again runs a dozen go
      // commands at once, which under TCG outlast discovery's timeouts; and with the same
      // toolchain records the guest's build-cache keys equal the host's, so it reuses the
      // host's binaries.
      const toolchainsFile = join(dir, 'toolchains.json');
      writeFileSync(toolchainsFile, JSON.stringify(remaining));
      // Cells of a toolchain the guest did not finish run again whole.
      for (const t of remaining) for (const mode of modes) cells.delete(`${t.id}/${mode}`);
      rmSync(cellsFile, { force: true });
      rmSync(progressFile, { force: true });
      lastProgress = '';
      const before = cells.size;
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
            // Perf events in guests: link attaches are only about speed, which matters on the
            // host; perf events are the path every kernel has.
            '--attach',
            'perf',
            '--modes',
            modes.join(','),
            '--cells-out',
            cellsFile,
            '--progress-file',
            progressFile,
            '--quiet',
          ],
          cwd: PROJECT_ROOT,
          timeoutMs: Math.max(60_000, timeoutMs - (Date.now() - started)),
          onProgress: (text) => onProgress({ kind: 'message', kernel: line, text }),
        });
        readCells();
        if (run.exitCode !== 0 && cells.size < total) {
          const tail = `${run.stderr}\n${run.stdout}`.trim().split('\n').slice(-3).join(' | ');
          problems.push(`the guest exited with ${run.exitCode}: ${tail}`);
        }
      } catch (error) {
        readCells();
        problems.push(error instanceof Error ? error.message : String(error));
      }
      // A boot that finished nothing will not do better next time.
      if (cells.size === before && attempt > 1) break;
    }
  } finally {
    clearInterval(poll);
    rmSync(dir, { recursive: true, force: true });
  }
  const durationMs = Date.now() - started;
  const missingWhy = problems.at(-1) ?? 'the guest wrote no cells';
  const all = toolchains.flatMap((toolchain) =>
    modes.map((mode) => cells.get(`${toolchain.id}/${mode}`) ?? wholeCell(toolchain, mode, line, 'fail', `VM kernel ${line}: ${missingWhy}`)),
  );
  const complete = all.every((c) => c.error === undefined || !c.error.startsWith(`VM kernel ${line}:`));
  onProgress({ kind: 'kernel-done', kernel: line, durationMs, ...(complete ? {} : { error: missingWhy }) });
  return {
    kernel: {
      name: line,
      release: guestKernel?.release ?? 'unknown',
      lockdown: guestKernel?.lockdown ?? 'unknown',
      capabilities: guestKernel?.capabilities ?? unknownCapabilities(missingWhy),
      durationMs,
      ...(complete ? {} : { error: missingWhy }),
    },
    cells: all,
  };
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
        ? await runHostCells(options.toolchains, options.modes, builds, {
            onProgress: progress,
            ...(options.attach ? { attach: options.attach } : {}),
            ...(options.onKernel ? { onKernel: options.onKernel } : {}),
            ...(options.onCell ? { onCell: options.onCell } : {}),
          })
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
