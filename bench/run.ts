/**
 * `npm run bench`: the cost per traced call of tracee/hot (Go 1.19, a //go:noinline function in
 * a loop) watched every way the issue compares, measured side by side in each round on the same
 * binary, summarized as medians and ratios to the bare-uprobe floor, and written as JSON.
 *
 * Per-call cost is the CPU time of the tracee's looping thread (CLOCK_THREAD_CPUTIME_ID): uprobe
 * handling runs in that thread, and unlike wall time it leaves out waiting for a CPU, which on a
 * shared two-core machine would swamp the differences being measured. Wall time is kept too.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { removeStaleUprobeEvents } from '../lab/bcc/uprobe.ts';
import type { Transport } from '../lab/probe/codegen.ts';
import { machineInfo, type MachineInfo } from './machine.ts';
import { closeContext, FLOOR_OF, measure, openContext, PATH_NAMES, type PathName, type PathResult } from './paths.ts';
import { checkTargets, formatTable, formatTargets, summarize, type PathSummary, type TargetCheck } from './report.ts';
import { BENCH_GO, buildHot } from './tracee.ts';

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Calls of hot per measurement. Default 200,000 (the targets are stated for it). */
  readonly calls?: number;
  /** Rounds of every path; medians are taken over them. Default 3. */
  readonly rounds?: number;
  readonly transport?: Transport;
  /** Only these paths (floors are added when a path needs one). */
  readonly paths?: readonly PathName[];
  /** Where the JSON goes; default bench/results. `null`: write none. */
  readonly outDir?: string | null;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** The command line that started the run, for the record. */
  readonly command?: string;
}

/** Everything a run measured. */
export interface BenchReport {
  readonly date: string;
  readonly command: string;
  readonly machine: MachineInfo;
  readonly loadAtEnd: readonly number[];
  readonly go: string;
  readonly binary: string;
  readonly calls: number;
  readonly rounds: number;
  readonly transport: Transport;
  readonly skipped: readonly { path: PathName; reason: string }[];
  readonly summary: readonly PathSummary[];
  readonly targets: readonly TargetCheck[];
  readonly results: readonly (readonly PathResult[])[];
  /** Where the JSON was written. */
  jsonPath?: string;
}

/** The repository's bench/results directory (git-ignored). */
export const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');

/** Runs the benchmark. */
export async function runBench(options: BenchOptions = {}): Promise<BenchReport> {
  const log = options.log ?? (() => undefined);
  const calls = options.calls ?? 200_000;
  const rounds = options.rounds ?? 3;
  const transport = options.transport ?? 'ring';
  removeStaleUprobeEvents();
  const machine = await machineInfo();
  const built = await buildHot();
  log(`tracee: ${built.path} (${built.toolchain.id}); ${calls} calls, ${rounds} round(s), ${transport} transport; load ${machine.loadAtStart.join(' ')}`);
  const skipped: { path: PathName; reason: string }[] = [];
  const wanted = new Set<PathName>(options.paths ?? PATH_NAMES);
  if (wanted.has('golab-events') || wanted.has('golab-events-unbatched') || wanted.has('golab-latency') || wanted.has('python-bcc')) wanted.add('floor-entry-ret');
  if (wanted.has('golab-count') || wanted.has('bpftrace-count') || wanted.has('bpftrace-printf')) wanted.add('floor-entry');
  if (wanted.has('python-bcc') && !(await works('/usr/bin/python3', ['-c', 'import bcc']))) {
    wanted.delete('python-bcc');
    skipped.push({ path: 'python-bcc', reason: "BCC's Python binding is missing: apt-get install python3-bpfcc" });
  }
  if (!(await works('bpftrace', ['--version']))) {
    for (const p of ['bpftrace-count', 'bpftrace-printf'] as const) {
      if (wanted.delete(p)) skipped.push({ path: p, reason: 'bpftrace is missing: apt-get install bpftrace' });
    }
  }
  const order = PATH_NAMES.filter((p) => wanted.has(p));
  const context = await openContext(built.path, calls, transport);
  const results: PathResult[][] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const measured: PathResult[] = [];
      for (const name of order) {
        // Each path's floor is measured again right before it, so the pair sees the same load.
        const floorName = FLOOR_OF[name];
        const paired = floorName ? await measure(floorName, context) : undefined;
        const measuredPath = await measure(name, context);
        const result = paired ? { ...measuredPath, pairedFloor: paired.run } : measuredPath;
        measured.push(result);
        log(`round ${round + 1}/${rounds} ${name}: ${(result.run.cpuNs / calls / 1000).toFixed(2)} µs/call cpu, ${(result.run.elapsedNs / calls / 1000).toFixed(2)} wall` +
          (paired ? ` (its floor just before: ${(paired.run.cpuNs / calls / 1000).toFixed(2)})` : '') +
          (result.consumerCpuNs !== undefined && result.received ? `, consumer ${(result.consumerCpuNs / result.received / 1000).toFixed(2)} µs/event` : '') +
          (result.lost ? `, ${result.lost} lost` : '') + (result.verified ? '' : ', NOT exact'));
      }
      results.push(measured);
    }
  } finally {
    closeContext(context);
  }
  const summary = summarize(results);
  const report: BenchReport = {
    date: new Date().toISOString(),
    command: options.command ?? 'npm run bench',
    machine,
    loadAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
    go: built.toolchain.id,
    binary: built.path,
    calls,
    rounds,
    transport,
    skipped,
    summary,
    targets: checkTargets(summary),
    results,
  };
  if (options.outDir !== null) {
    const dir = options.outDir ?? RESULTS_DIR;
    mkdirSync(dir, { recursive: true });
    report.jsonPath = path.join(dir, `${report.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    writeFileSync(report.jsonPath, `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  }
  return report;
}

/** The report as text: machine, table, targets. */
export function formatReport(report: BenchReport): string {
  const m = report.machine;
  return [
    `golab bench: ${report.calls} calls of main.hot (tracee/hot, ${report.go}), ${report.rounds} round(s), medians; ${report.transport} transport`,
    `machine: ${m.nproc} × ${m.cpuModel}, ${m.memoryGiB} GiB, kernel ${m.kernel} (lockdown ${m.lockdown}), libbcc ${m.libbcc}, ${m.bpftrace ?? 'no bpftrace'}, python bcc ${m.pythonBcc ?? 'missing'}, node ${m.node}`,
    `load average: ${m.loadAtStart.join(' ')} at start, ${report.loadAtEnd.join(' ')} at end`,
    '',
    formatTable(report.summary),
    '',
    'cpu µs/call: CPU time of the tracee\'s looping thread per call; × floor: against empty-program uprobes on the same',
    'instructions (floor-entry: 1 probe; floor-entry-ret: entry + RET) measured right before the path, median of rounds.',
    ...report.skipped.map((s) => `skipped ${s.path}: ${s.reason}`),
    '',
    'targets (issue 7):',
    formatTargets(report.targets),
    ...(report.jsonPath ? ['', `JSON: ${report.jsonPath}`] : []),
  ].join('\n');
}

/** The Go release the targets are stated for. */
export { BENCH_GO };

async function works(command: string, args: string[]): Promise<boolean> {
  try {
    await execa(command, args, { timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}
