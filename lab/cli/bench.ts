/**
 * `golab bench` (`npm run bench`): the cost per traced call of a hot Go function, golab's paths
 * against the bare-uprobe floor, BCC's Python binding and bpftrace. A benchmark, not a test:
 * it prints a table and whether issue 7's targets are met, and writes JSON to bench/results.
 */
import type { Command } from 'commander';
import { ExitCode, GolabError } from '../errors.ts';
import { formatReport, runBench } from '../../bench/run.ts';
import { PATH_NAMES, type PathName } from '../../bench/paths.ts';
import type { Transport } from '../probe/codegen.ts';

interface BenchCliOptions {
  calls: number;
  rounds: number;
  transport: Transport;
  only?: string;
  json: boolean;
  strict?: boolean;
  quiet?: boolean;
}

/** Registers `golab bench` on the program. */
export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure the cost per traced call: golab\'s event and aggregation paths vs the bare uprobe, BCC\'s Python binding and bpftrace')
    .option('--calls <n>', 'calls of the hot function per measurement', (v) => positiveInteger('--calls', v), 200_000)
    .option('--rounds <n>', 'rounds of every path (medians are reported)', (v) => positiveInteger('--rounds', v), 3)
    .option('--transport <kind>', 'ring or perf, for golab and the Python binding', 'ring')
    .option('--only <paths>', `comma-separated paths: ${PATH_NAMES.join(', ')}`)
    .option('--no-json', 'do not write bench/results/<date>.json')
    .option('--strict', 'exit 1 when a target is missed')
    .option('--quiet', 'no progress lines')
    .action(async (options: BenchCliOptions) => {
      if (options.transport !== 'ring' && options.transport !== 'perf') {
        throw new GolabError('BENCH_USAGE', `unknown transport '${String(options.transport)}'`, { hint: 'use --transport ring or --transport perf', exitCode: ExitCode.usage });
      }
      const paths = options.only?.split(',').map((p) => p.trim()).filter(Boolean);
      const unknown = paths?.filter((p) => !(PATH_NAMES as readonly string[]).includes(p));
      if (unknown && unknown.length > 0) {
        throw new GolabError('BENCH_USAGE', `unknown path(s): ${unknown.join(', ')}`, { hint: `choose from ${PATH_NAMES.join(', ')}`, exitCode: ExitCode.usage });
      }
      const report = await runBench({
        calls: options.calls,
        rounds: options.rounds,
        transport: options.transport,
        ...(paths ? { paths: paths as PathName[] } : {}),
        outDir: options.json ? undefined : null,
        command: ['npm run bench', ...(process.argv.slice(3).length ? ['--', ...process.argv.slice(3)] : [])].join(' '),
        ...(options.quiet ? {} : { log: (line: string) => process.stderr.write(`${line}\n`) }),
      });
      process.stdout.write(`${formatReport(report)}\n`);
      if (options.strict && report.targets.some((t) => !t.met)) process.exitCode = ExitCode.checkFailed;
    });
}

function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new GolabError('BENCH_USAGE', `${flag} wants a positive integer, not '${value}'`, { hint: `e.g. ${flag} 200000`, exitCode: ExitCode.usage });
  }
  return n;
}
