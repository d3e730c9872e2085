/**
 * `golab matrix`: the compatibility matrix — every toolchain × build mode × kernel, every zoo
 * function's arguments, results and rewrite checked against the zoo's own printout.
 *
 *     golab matrix [--go 1.15,1.22] [--modes default,pie,stripped] [--kernels host,6.1,7] [--out DIR]
 *
 * Without --kernels: the host, plus the VM kernels 6.1 and 7 when they are cached and vng/qemu
 * are installed (a VM kernel is never downloaded unless named). Exits 1 on any `fail`.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { ExitCode, GolabError } from '../errors.ts';
import { failureLines, formatCounts, formatDuration, summaryLines } from '../matrix/summary.ts';
import { HOST_KERNEL, runMatrix, type CellsFileLine, type MatrixProgress } from '../matrix/run.ts';
import type { KernelInfo, MatrixCell } from '../matrix/types.ts';
import { writeReport } from '../matrix/output.ts';
import { discoverToolchains, findToolchain } from '../toolchain/discover.ts';
import { BUILD_MODES, isBuildMode, type BuildMode, type Toolchain } from '../toolchain/types.ts';

/** VM kernel lines `golab matrix` includes by default, when cached: one that allows stack writes, one that allows register writes. */
export const DEFAULT_VM_KERNELS: readonly string[] = ['6.1', '7'];

/** Options as commander parses them. */
interface MatrixCliOptions {
  go?: string;
  modes?: string;
  kernels?: string;
  out: string;
  jsonOut?: string;
  progressFile?: string;
  toolchainsFile?: string;
  cellsOut?: string;
  attach: string;
  vmTimeout: string;
  quiet?: boolean;
}

const list = (text: string) =>
  text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');

/** The toolchains `--go` names (all installed ones when absent), without duplicates. */
export async function selectToolchains(spec: string | undefined): Promise<Toolchain[]> {
  if (spec === undefined || spec === 'all') {
    const all = [...(await discoverToolchains())];
    if (all.length === 0) {
      throw new GolabError('TOOLCHAIN_MISSING', 'no Go toolchain found', {
        hint: 'install one (sudo provision/host.sh installs Go 1.15 to 1.27 and gccgo), or name GOROOTs in GOLAB_GOROOTS',
        exitCode: ExitCode.environment,
      });
    }
    return all;
  }
  const chosen: Toolchain[] = [];
  for (const part of list(spec)) {
    const toolchain = await findToolchain(part);
    if (!chosen.some((t) => t.id === toolchain.id)) chosen.push(toolchain);
  }
  return chosen;
}

/** Toolchains written by a host run for its VM kernels (`--toolchains-file`). */
export function readToolchains(file: string): Toolchain[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new GolabError('MATRIX_TOOLCHAINS_FILE', `cannot read toolchains from ${file}: ${error instanceof Error ? error.message : String(error)}`, {
      hint: 'the file is written by golab matrix for its VM kernel runs; pass --go instead',
      exitCode: ExitCode.usage,
    });
  }
  const valid = (t: unknown): t is Toolchain =>
    typeof t === 'object' && t !== null && ['id', 'kind', 'version', 'goBinary', 'abi', 'fingerprint'].every((k) => typeof (t as Record<string, unknown>)[k] === 'string');
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every(valid)) {
    throw new GolabError('MATRIX_TOOLCHAINS_FILE', `${file} does not hold a list of toolchains`, { exitCode: ExitCode.usage });
  }
  return parsed;
}

/** The modes `--modes` names (all when absent). */
export function selectModes(spec: string | undefined): BuildMode[] {
  if (spec === undefined || spec === 'all') return [...BUILD_MODES];
  const modes: BuildMode[] = [];
  for (const part of list(spec)) {
    if (!isBuildMode(part)) {
      throw new GolabError('MATRIX_MODE_UNKNOWN', `unknown build mode '${part}'`, {
        hint: `use ${BUILD_MODES.join(', ')} (comma-separated)`,
        exitCode: ExitCode.usage,
      });
    }
    if (!modes.includes(part)) modes.push(part);
  }
  return modes;
}

/**
 * The kernels `--kernels` names. Absent: the host plus {@link DEFAULT_VM_KERNELS} that are
 * cached, when a VM can be booted here. `all`: the host plus every cached line.
 */
export async function selectKernels(spec: string | undefined, notes: string[]): Promise<string[]> {
  if (spec !== undefined && spec !== 'all') {
    const { kernelLine } = await import('../vm/lines.ts');
    const kernels: string[] = [];
    for (const part of list(spec)) {
      const name = part === HOST_KERNEL ? HOST_KERNEL : kernelLine(part).id;
      if (!kernels.includes(name)) kernels.push(name);
    }
    return kernels;
  }
  const { missingTools } = await import('../vm/runner.ts');
  const { listCachedKernels } = await import('../vm/kernels.ts');
  const missing = missingTools();
  if (missing.length > 0) {
    notes.push(`VM kernels skipped: missing ${missing.join(', ')}`);
    return [HOST_KERNEL];
  }
  const cached = (await listCachedKernels()).map((k) => k.line);
  const wanted = spec === 'all' ? cached : DEFAULT_VM_KERNELS.filter((line) => cached.includes(line));
  const absent = spec === 'all' ? [] : DEFAULT_VM_KERNELS.filter((line) => !cached.includes(line));
  if (absent.length > 0) notes.push(`VM kernels ${absent.join(', ')} not cached (golab vm fetch --kernel ${absent.join(',')}); skipped`);
  return [HOST_KERNEL, ...wanted];
}

/** Progress as bars on a terminal, as plain lines elsewhere (CI, the guest of a VM kernel). */
function progressReporter(quiet: boolean): { onProgress: (p: MatrixProgress) => void; stop: () => void; log: (text: string) => void } {
  if (quiet) return { onProgress: () => {}, stop: () => {}, log: () => {} };
  if (!process.stdout.isTTY) {
    const line = (text: string) => process.stdout.write(`matrix: ${text}\n`);
    let lastBuild = 0;
    return {
      log: line,
      stop: () => {},
      onProgress: (p) => {
        switch (p.kind) {
          case 'build':
            // Every build on a terminal; in a log, the first, every tenth and the last.
            if (p.done === 0 || p.done === p.total || p.done - lastBuild >= 10) {
              lastBuild = p.done;
              line(`build ${p.done}/${p.total} ${p.label}`);
            }
            return;
          case 'kernel-start':
            return line(`${p.kernel}: ${p.total} cells (${p.label})`);
          case 'cell':
            return line(
              `${p.kernel} ${p.done}/${p.total} ${p.label}${p.counts ? `: ${formatCounts(p.counts)}` : ''}${p.durationMs !== undefined ? ` (${formatDuration(p.durationMs)})` : ''}`,
            );
          case 'kernel-done':
            return line(`${p.kernel}: done in ${formatDuration(p.durationMs)}${p.error ? ` — ${p.error}` : ''}`);
          case 'message':
            return line(`${p.kernel ? `${p.kernel}: ` : ''}${p.text}`);
        }
      },
    };
  }
  const bars = new cliProgress.MultiBar(
    {
      format: '{name} |{bar}| {value}/{total} {label}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  const byName = new Map<string, cliProgress.SingleBar>();
  const bar = (name: string, total: number) => {
    let found = byName.get(name);
    if (!found) {
      found = bars.create(total, 0, { name: name.padEnd(6), label: '' });
      byName.set(name, found);
    }
    return found;
  };
  return {
    log: (text) => bars.log(`${text}\n`),
    stop: () => bars.stop(),
    onProgress: (p) => {
      switch (p.kind) {
        case 'build':
          bar('build', p.total).update(p.done, { label: p.label });
          return;
        case 'kernel-start':
          bar(p.kernel, p.total).update(0, { label: p.label });
          return;
        case 'cell':
          bar(p.kernel, p.total).update(p.done, { label: `${p.label}${p.counts ? `: ${formatCounts(p.counts)}` : ''}` });
          return;
        case 'kernel-done':
          bar(p.kernel, 1).update({ label: `done in ${formatDuration(p.durationMs)}${p.error ? ` — ${p.error}` : ''}` });
          return;
        case 'message':
          if (p.kernel && byName.has(p.kernel)) byName.get(p.kernel)!.update({ label: p.text });
          else bars.log(`${p.kernel ? `${p.kernel}: ` : ''}${p.text}\n`);
          return;
      }
    },
  };
}

/** Registers `golab matrix` on the program. */
export function registerMatrix(program: Command): void {
  program
    .command('matrix')
    .description('the compatibility matrix: every toolchain × build mode × kernel, every zoo function traced, rewritten and compared')
    .option('--go <specs>', 'toolchains, comma-separated (1.15,1.22,gccgo); default: every installed one')
    .option('--modes <modes>', `build modes, comma-separated (${BUILD_MODES.join(',')}); default: all`)
    .option('--kernels <kernels>', `host and VM kernel lines, comma-separated (host,6.1,7), or all; default: host + cached ${DEFAULT_VM_KERNELS.join(', ')}`)
    .option('--out <dir>', 'where matrix.json, MATRIX.md and matrix.html go', 'out/matrix')
    .option('--json-out <file>', 'write only the JSON report, to this file (what a VM kernel run uses)')
    .option('--progress-file <file>', 'also append each progress event to this file as a JSON line')
    .option('--cells-out <file>', 'append the kernel and each finished cell to this file as JSON lines (what a VM kernel run uses)')
    .option('--toolchains-file <file>', 'take the toolchains from this JSON file instead of discovering them (what a VM kernel run uses)')
    .option('--vm-timeout <minutes>', 'limit for each VM kernel run', '90')
    .option('--attach <how>', 'uprobe attachment on the host: auto (uprobe-multi links where the kernel has them) or perf', 'auto')
    .option('-q, --quiet', 'no progress display')
    .action(async (options: MatrixCliOptions) => {
      const notes: string[] = [];
      const toolchains = options.toolchainsFile !== undefined ? readToolchains(options.toolchainsFile) : await selectToolchains(options.go);
      const modes = selectModes(options.modes);
      const kernels = await selectKernels(options.kernels, notes);
      const vmMinutes = Number(options.vmTimeout);
      if (!Number.isFinite(vmMinutes) || vmMinutes <= 0) {
        throw new GolabError('USAGE_BAD_TIMEOUT', `--vm-timeout wants minutes, got '${options.vmTimeout}'`, { exitCode: ExitCode.usage });
      }
      if (options.attach !== 'auto' && options.attach !== 'perf') {
        throw new GolabError('USAGE_BAD_ATTACH', `--attach wants auto or perf, got '${options.attach}'`, { exitCode: ExitCode.usage });
      }
      const attach: 'auto' | 'perf' = options.attach;
      const reporter = progressReporter(options.quiet === true);
      for (const note of notes) reporter.log(note);
      reporter.log(`${toolchains.map((t) => t.id).join(', ')} × ${modes.join(', ')} × ${kernels.join(', ')}`);
      const progressFile = options.progressFile === undefined ? undefined : resolve(options.progressFile);
      const cellsOut = options.cellsOut === undefined ? undefined : resolve(options.cellsOut);
      if (cellsOut) mkdirSync(dirname(cellsOut), { recursive: true });
      const appendLine = (line: CellsFileLine) => appendFileSync(cellsOut!, `${JSON.stringify(line)}\n`);
      if (progressFile) mkdirSync(dirname(progressFile), { recursive: true });
      const command = ['golab', 'matrix', ...process.argv.slice(3)].join(' ');
      let report;
      try {
        report = await runMatrix({
          toolchains,
          modes,
          kernels,
          command,
          vmTimeoutMs: vmMinutes * 60_000,
          attach,
          ...(cellsOut ? { onKernel: (kernel: KernelInfo) => appendLine({ kernel }), onCell: (cell: MatrixCell) => appendLine({ cell }) } : {}),
          onProgress: (p) => {
            reporter.onProgress(p);
            if (progressFile) appendFileSync(progressFile, `${JSON.stringify(p)}\n`);
          },
        });
      } finally {
        reporter.stop();
      }
      if (cellsOut !== undefined && options.jsonOut === undefined) {
        process.stdout.write(`matrix: wrote ${cellsOut}\n`);
      } else if (options.jsonOut !== undefined) {
        const file = resolve(options.jsonOut);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
        process.stdout.write(`matrix: wrote ${file}\n`);
      } else {
        const files = writeReport(report, resolve(options.out));
        process.stdout.write(`matrix: wrote ${files.json}, ${files.markdown}, ${files.html}\n`);
      }
      const failures = failureLines(report);
      for (const line of failures) process.stdout.write(`FAIL ${line}\n`);
      for (const line of summaryLines(report)) process.stdout.write(`${line}\n`);
      if (report.totals.fail > 0) process.exitCode = ExitCode.checkFailed;
    });
}
