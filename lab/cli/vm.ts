/**
 * `golab vm`: the kernel lab. Debian kernels booted under qemu through virtme-ng, with the host's
 * root shared read-only, so the suite can be run on kernels that allow what this host refuses.
 *
 *     golab vm fetch --kernel 6.1|all
 *     golab vm run --kernel 6.1 [--append lockdown=integrity] -- CMD...
 *     golab vm list
 *     golab vm test [--kernel 6.1,7,7:lockdown=integrity] [-- VITEST-ARGS...]
 */
import type { Command } from 'commander';
import { ExitCode, GolabError } from '../errors.ts';
import { detectAccel } from '../vm/accel.ts';
import {
  probeCapabilities,
  storedCapabilities,
  unknownCapabilities,
  type CapabilityView,
  type KernelCapabilityView,
} from '../vm/capabilities.ts';
import { fetchKernel, listCachedKernels, type CachedKernel } from '../vm/kernels.ts';
import { KERNEL_LINES, kernelLines } from '../vm/lines.ts';
import { missingTools, runInVm } from '../vm/runner.ts';
import { formatSuiteResults, parseTargets, runSuite } from '../vm/suite.ts';

const progressTo =
  (quiet: boolean | undefined) =>
  (message: string): void => {
    if (!quiet) process.stderr.write(`golab vm: ${message}\n`);
  };

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function seconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new GolabError('USAGE_BAD_TIMEOUT', `--timeout wants seconds, got '${value}'`, { exitCode: ExitCode.usage });
  }
  return parsed * 1000;
}

function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new GolabError('USAGE_BAD_ENV', `--env wants NAME=VALUE, got '${pair}'`, { exitCode: ExitCode.usage });
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

function mark(view: CapabilityView): string {
  if (view.ok === undefined) return 'unknown';
  return view.ok ? 'yes' : 'no';
}

interface ListRow {
  readonly line: string;
  readonly description: string;
  readonly kernel: CachedKernel | undefined;
  readonly capabilities: KernelCapabilityView | undefined;
}

function formatList(rows: readonly ListRow[]): string {
  const accel = detectAccel();
  const out = [`accelerator: ${accel.accel} (${accel.reason})`, ''];
  for (const row of rows) {
    if (!row.kernel) {
      out.push(`${row.line.padEnd(5)} not fetched (${row.description}): golab vm fetch --kernel ${row.line}`);
      continue;
    }
    out.push(`${row.line.padEnd(5)} ${row.kernel.release} (Debian ${row.kernel.version}, ${row.description})`);
    const caps = row.capabilities ?? unknownCapabilities('not probed');
    out.push(`      lockdown ${caps.lockdown ?? 'unknown'}`);
    for (const [label, view] of [
      ['uprobe read', caps.uprobeRead],
      ['bpf_probe_write_user', caps.probeWriteUser],
      ['ctx register write', caps.ctxRegisterWrite],
    ] as const) {
      out.push(`      ${label.padEnd(22)} ${mark(view).padEnd(8)} ${view.reason}`);
    }
  }
  return out.join('\n');
}

/** Registers `golab vm` and its subcommands on the program. */
export function registerVm(program: Command): void {
  const vm = program
    .command('vm')
    .description('kernel lab: run commands and the integration suite under Debian kernels in qemu (virtme-ng)');

  vm.command('fetch')
    .description(`download and unpack Debian kernels with their headers (${KERNEL_LINES.map((l) => l.id).join(', ')}, or all)`)
    .requiredOption('-k, --kernel <lines>', 'kernel lines, comma-separated, or all')
    .option('--force', 'fetch again even when cached')
    .option('-q, --quiet', 'no progress lines')
    .action(async (options: { kernel: string; force?: boolean; quiet?: boolean }) => {
      for (const line of kernelLines(options.kernel)) {
        const kernel = await fetchKernel(line, { force: options.force ?? false, onProgress: progressTo(options.quiet) });
        process.stdout.write(`${line.id}\t${kernel.release}\t${kernel.dir}\n`);
      }
    });

  vm.command('run')
    .description('boot a kernel and run a command in it; exits with the command\'s status')
    .requiredOption('-k, --kernel <line>', 'kernel line: 5.10, 6.1, 6.12 or 7')
    .option('-a, --append <arg>', 'extra kernel argument, e.g. lockdown=integrity (repeatable)', collect, [])
    .option('-e, --env <NAME=VALUE>', 'environment variable for the command (repeatable)', collect, [])
    .option('--cwd <dir>', 'working directory in the guest (default: the project root)')
    .option('--rwdir <dir>', 'another host directory the guest may write (repeatable)', collect, [])
    .option('-t, --timeout <seconds>', 'kill the VM after this long', '600')
    .option('-m, --memory <size>', 'guest memory', '2G')
    .option('--attempts <n>', 'boots to try when the guest dies before the command starts', '3')
    .option('-v, --verbose', 'show the kernel console')
    .option('-q, --quiet', 'no progress lines')
    .argument('<command...>', 'the command to run in the guest (put it after --)')
    .action(
      async (
        command: string[],
        options: {
          kernel: string;
          append: string[];
          env: string[];
          cwd?: string;
          rwdir: string[];
          timeout: string;
          memory: string;
          attempts: string;
          verbose?: boolean;
          quiet?: boolean;
        },
      ) => {
        const result = await runInVm({
          kernel: options.kernel,
          command,
          append: options.append,
          env: parseEnv(options.env),
          ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
          rwdirs: options.rwdir,
          timeoutMs: seconds(options.timeout),
          memory: options.memory,
          maxAttempts: Math.max(1, Number.parseInt(options.attempts, 10) || 1),
          verbose: options.verbose ?? false,
          stream: true,
          onProgress: progressTo(options.quiet),
        });
        progressTo(options.quiet)(
          `${result.kernel.release}: exit ${result.exitCode} after ${(result.durationMs / 1000).toFixed(1)} s` +
            ` (${result.accel.accel}, ${result.attempts} boot${result.attempts === 1 ? '' : 's'})`,
        );
        process.exitCode = result.exitCode;
      },
    );

  vm.command('list')
    .description('cached kernels and what each allows, probed by golab doctor inside it')
    .option('--refresh', 'probe again, even kernels probed before')
    .option('--no-probe', 'do not boot kernels that were never probed; show them as unknown')
    .option('--json', 'print JSON')
    .option('-q, --quiet', 'no progress lines')
    .action(async (options: { refresh?: boolean; probe: boolean; json?: boolean; quiet?: boolean }) => {
      const cached = await listCachedKernels();
      const canBoot = missingTools();
      const rows: ListRow[] = [];
      for (const line of KERNEL_LINES) {
        const kernel = cached.find((candidate) => candidate.line === line.id);
        let capabilities = kernel ? storedCapabilities(kernel) : undefined;
        if (kernel && (options.refresh || (capabilities === undefined && options.probe))) {
          if (canBoot.length > 0) {
            capabilities = unknownCapabilities(`cannot boot: missing ${canBoot.join(', ')}`);
          } else {
            progressTo(options.quiet)(`probing ${kernel.release} with golab doctor`);
            capabilities = await probeCapabilities(kernel, progressTo(options.quiet)).catch((error: unknown) =>
              unknownCapabilities(error instanceof GolabError ? `${error.code}: ${error.message}` : String(error)),
            );
          }
        }
        rows.push({ line: line.id, description: line.description, kernel, capabilities });
      }
      process.stdout.write(options.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatList(rows)}\n`);
    });

  vm.command('test')
    .description('run the integration suite (vitest --project integration) inside VM kernels')
    .option(
      '-k, --kernel <targets>',
      'targets, comma-separated: a line with optional kernel arguments, e.g. 6.1,7,7:lockdown=integrity (default: those three)',
    )
    .option('-a, --append <arg>', 'extra kernel argument for every target (repeatable)', collect, [])
    .option('-t, --timeout <seconds>', 'limit per target', '2400')
    .option('-m, --memory <size>', 'guest memory', '2G')
    .option('-q, --quiet', 'no progress lines')
    .argument('[vitest-args...]', 'passed to vitest (put them after --)')
    .action(
      async (
        vitestArgs: string[],
        options: { kernel?: string; append: string[]; timeout: string; memory: string; quiet?: boolean },
      ) => {
        const results = await runSuite({
          targets: parseTargets(options.kernel, options.append),
          vitestArgs,
          timeoutMs: seconds(options.timeout),
          memory: options.memory,
          onProgress: progressTo(options.quiet),
        });
        process.stdout.write(`\n${formatSuiteResults(results)}\n`);
        process.exitCode = results.every((result) => result.passed) ? ExitCode.ok : ExitCode.checkFailed;
      },
    );
}
