/**
 * The ways of watching tracee/hot that the benchmark compares. Each runs the tracee once with
 * its probes attached and reports the tracee's own timing, what the consumer received, and the
 * consumer's CPU time while the tracee ran.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpfModule, Uprobe } from '../lab/bcc/index.ts';
import { AggregateSession, aggregateTargets, type AggregateTarget } from '../lab/probe/aggregate.ts';
import { ModuleCache, TraceSession } from '../lab/probe/session.ts';
import type { Transport } from '../lab/probe/codegen.ts';
import { ElfFile } from '../lab/elf/index.ts';
import { expectedChecksum, runHot, type HotRun } from './tracee.ts';

/** The measured paths, in the order a round runs them. */
export const PATH_NAMES = [
  'unprobed',
  'floor-entry',
  'floor-entry-ret',
  'golab-events',
  'golab-events-unbatched',
  'golab-count',
  'golab-latency',
  'python-bcc',
  'bpftrace-count',
  'bpftrace-printf',
] as const;

/** One measured path. */
export type PathName = (typeof PATH_NAMES)[number];

/** The floor each probed path is compared with: empty programs on the same instructions. */
export const FLOOR_OF: Partial<Record<PathName, 'floor-entry' | 'floor-entry-ret'>> = {
  'golab-events': 'floor-entry-ret',
  'golab-events-unbatched': 'floor-entry-ret',
  'golab-count': 'floor-entry',
  'golab-latency': 'floor-entry-ret',
  'python-bcc': 'floor-entry-ret',
  'bpftrace-count': 'floor-entry',
  'bpftrace-printf': 'floor-entry',
};

/** What one path measured in one round. */
export interface PathResult {
  readonly path: PathName;
  readonly run: HotRun;
  /** Uprobe hits per call of hot (1: entry; 2: entry and RET). */
  readonly probesPerCall: number;
  /** The floor this path is compared with. */
  readonly floor?: 'floor-entry' | 'floor-entry-ret';
  /** That floor, measured right before this path (the load on a shared machine drifts). */
  readonly pairedFloor?: HotRun;
  /** Events (or counted calls) the consumer got, and how many it should have. */
  readonly received?: number;
  readonly expected?: number;
  /** Events the kernel could not deliver (buffer full). */
  readonly lost?: number;
  /** CPU time of the consumer process from the tracee's start until everything was consumed. */
  readonly consumerCpuNs?: number;
  /** The values (or counts) the consumer saw agree exactly with the tracee's printout. */
  readonly verified: boolean;
  readonly note?: string;
}

/** Everything the paths share within one benchmark run. */
export interface BenchContext {
  readonly binary: string;
  readonly calls: number;
  readonly transport: Transport;
  readonly modules: ModuleCache;
  /** An empty program for the floors. */
  readonly empty: BpfModule;
  readonly target: AggregateTarget;
  /** golab's generated program for main.hot, for BCC's Python binding to load too. */
  readonly program: { text: string; table: string; lostTable: string; probes: { cFunction: string; symbolOffset: number; kind: string; id: number }[] };
  readonly scratchDir: string;
}

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
/** How long an external consumer may take to compile and attach. */
const READY_TIMEOUT_MS = 180_000;

/** Builds the context: compiles the empty program, plans golab's program once. */
export async function openContext(binary: string, calls: number, transport: Transport): Promise<BenchContext> {
  const modules = new ModuleCache();
  const empty = BpfModule.compile('int golab_bench_empty(struct pt_regs *ctx) { return 0; }');
  const [target] = aggregateTargets(ElfFile.open(binary), ['main.hot']);
  // A session started and stopped without a tracee: its program text, and a warm module cache.
  const session = await TraceSession.start({ binaryPath: binary, functions: ['main.hot'], transport, modules, onCall: () => undefined });
  await session.stop();
  const fnVaddr = session.functions[0]!.fn.vaddr;
  const program = {
    text: session.program.text,
    table: session.program.table,
    lostTable: session.program.lostTable,
    probes: session.program.probes.map((p) => ({ cFunction: p.cFunction, symbolOffset: p.spec.vaddr - fnVaddr, kind: p.spec.kind, id: p.spec.id })),
  };
  return { binary, calls, transport, modules, empty, target: target!, program, scratchDir: mkdtempSync(path.join(os.tmpdir(), 'golab-bench-')) };
}

/** Frees the context's modules and scratch files. */
export function closeContext(context: BenchContext): void {
  context.modules.dispose();
  context.empty.dispose();
  rmSync(context.scratchDir, { recursive: true, force: true });
}

/** Measures one path. */
export async function measure(name: PathName, context: BenchContext): Promise<PathResult> {
  switch (name) {
    case 'unprobed':
      return { path: name, run: await runHot(context.binary, context.calls), probesPerCall: 0, verified: true };
    case 'floor-entry':
      return floor(name, context, [context.target.entryOffset]);
    case 'floor-entry-ret':
      return floor(name, context, [context.target.entryOffset, ...context.target.returnOffsets]);
    case 'golab-events':
      return golabEvents(name, context, undefined);
    case 'golab-events-unbatched':
      return golabEvents(name, context, 0);
    case 'golab-count':
    case 'golab-latency':
      return golabAggregate(name, context);
    case 'python-bcc':
      return pythonBcc(context);
    case 'bpftrace-count':
    case 'bpftrace-printf':
      return bpftrace(name, context);
  }
}

async function floor(name: 'floor-entry' | 'floor-entry-ret', context: BenchContext, offsets: number[]): Promise<PathResult> {
  const program = context.empty.load('golab_bench_empty');
  const probes = offsets.map((fileOffset) => Uprobe.attach(program.fd, { binaryPath: context.binary, fileOffset }));
  try {
    const run = await runHot(context.binary, context.calls);
    return { path: name, run, probesPerCall: offsets.length, verified: run.checksum === expectedChecksum(context.calls) };
  } finally {
    await Promise.all(probes.map((p) => p.disposeAsync()));
  }
}

async function golabEvents(name: PathName, context: BenchContext, batchMs: number | undefined): Promise<PathResult> {
  let calls = 0;
  let complete = 0;
  let argSum = 0n;
  let resultSum = 0n;
  const session = await TraceSession.start({
    binaryPath: context.binary,
    functions: ['main.hot'],
    transport: context.transport,
    modules: context.modules,
    ...(batchMs === undefined ? {} : { batchMs }),
    onCall: (call) => {
      calls++;
      const arg = call.args[0]?.value;
      const result = call.results?.[0]?.value;
      if (arg?.kind === 'int') argSum += arg.value;
      if (result?.kind === 'int') {
        resultSum += result.value;
        complete++;
      }
    },
  });
  const probesPerCall = session.program.probes.length;
  const cpu = process.cpuUsage();
  let run: HotRun;
  try {
    run = await runHot(context.binary, context.calls);
  } finally {
    await session.stop({ waitForDetach: false });
  }
  const used = process.cpuUsage(cpu);
  await session.detached;
  const n = BigInt(context.calls);
  const verified = calls === context.calls && complete === calls && argSum === (n * (n - 1n)) / 2n && resultSum === run.checksum;
  return {
    path: name,
    run,
    probesPerCall,
    floor: probesPerCall === 1 ? 'floor-entry' : 'floor-entry-ret',
    received: calls * probesPerCall,
    expected: context.calls * probesPerCall,
    lost: session.lostEvents,
    consumerCpuNs: (used.user + used.system) * 1000,
    verified,
    note: `${session.transport} buffer, ${batchMs === 0 ? 'a wakeup per event' : 'batched wakeups'}`,
  };
}

async function golabAggregate(name: 'golab-count' | 'golab-latency', context: BenchContext): Promise<PathResult> {
  const mode = name === 'golab-count' ? 'count' : 'latency';
  const session = await AggregateSession.start({ binaryPath: context.binary, functions: ['main.hot'], mode });
  let run: HotRun;
  let results;
  try {
    run = await runHot(context.binary, context.calls);
  } finally {
    results = await session.stop();
  }
  const counted = Number(results[0]!.calls);
  const timed = (results[0]!.latency ?? []).reduce((sum, b) => sum + Number(b.count), 0);
  const verified = counted === context.calls && (mode === 'count' || timed === context.calls);
  return {
    path: name,
    run,
    probesPerCall: session.probeCount,
    floor: session.probeCount === 1 ? 'floor-entry' : 'floor-entry-ret',
    received: mode === 'count' ? counted : timed,
    expected: context.calls,
    lost: 0,
    verified,
    note: mode === 'count' ? 'BPF array, read at the end' : `log2 histogram by ${session.callerKey}`,
  };
}

async function pythonBcc(context: BenchContext): Promise<PathResult> {
  const programFile = path.join(context.scratchDir, 'program.c');
  writeFileSync(programFile, context.program.text);
  const args = [
    path.join(BENCH_DIR, 'bcc_consumer.py'),
    '--program', programFile,
    '--binary', context.binary,
    '--table', context.program.table,
    '--lost-table', context.program.lostTable,
    '--transport', context.transport,
    ...context.program.probes.flatMap((p) => ['--probe', `${p.cFunction}:main.hot:${p.symbolOffset}`]),
    ...context.program.probes.filter((p) => p.kind === 'return').flatMap((p) => ['--return-id', String(p.id)]),
  ];
  const child = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = collectLines(child);
  try {
    await lines.waitFor((l) => l === 'ready', READY_TIMEOUT_MS);
    const run = await runHot(context.binary, context.calls);
    child.kill('SIGTERM');
    const report = JSON.parse(await lines.waitFor((l) => l.startsWith('{'), 120_000)) as {
      events: number;
      lost: number;
      checksum: number;
      cpuUserS: number;
      cpuSystemS: number;
    };
    const probesPerCall = context.program.probes.length;
    return {
      path: 'python-bcc',
      run,
      probesPerCall,
      floor: probesPerCall === 1 ? 'floor-entry' : 'floor-entry-ret',
      received: report.events,
      expected: context.calls * probesPerCall,
      lost: report.lost,
      consumerCpuNs: Math.round((report.cpuUserS + report.cpuSystemS) * 1e9),
      verified: report.events === context.calls * probesPerCall && BigInt(report.checksum) === run.checksum,
      note: `golab's program, ${context.transport === 'ring' ? 'ring_buffer_poll' : 'perf_buffer_poll (a wakeup per event)'}, struct.unpack per event`,
    };
  } finally {
    await ended(child);
  }
}

/**
 * bpftrace: `count()` in a map (the aggregation equivalent), or a `printf` per call (the event
 * equivalent) into a file, so every call's argument can be checked.
 */
async function bpftrace(name: 'bpftrace-count' | 'bpftrace-printf', context: BenchContext): Promise<PathResult> {
  const output = path.join(context.scratchDir, `${name}.out`);
  rmSync(output, { force: true });
  const body = name === 'bpftrace-count' ? '@calls = count();' : 'printf("%d\\n", reg("ax"));';
  const script = `uprobe:${context.binary}:main.hot { ${body} }`;
  const child = spawn('bpftrace', ['-o', output, '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = collectLines(child);
  try {
    // bpftrace writes "Attaching 1 probe..." before it attaches: give it a moment after that.
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(existsSync(output) && readFileSync(output, 'utf8').includes('Attaching'))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`bpftrace did not start: ${stderr.all().join('\n')}`);
      await sleep(100);
    }
    await sleep(1000);
    const before = processCpuNs(child.pid!);
    const run = await runHot(context.binary, context.calls);
    let printed = 0;
    if (name === 'bpftrace-printf') {
      // Wait until bpftrace has written every call (or stops making progress).
      let last = -1;
      for (let i = 0; i < 100; i++) {
        printed = countLines(output) - 1;
        if (printed >= context.calls || printed === last) break;
        last = printed;
        await sleep(200);
      }
    }
    const consumerCpuNs = processCpuNs(child.pid!) - before;
    child.kill('SIGINT');
    await ended(child);
    const text = readFileSync(output, 'utf8');
    const lostMatch = /Lost (\d+) events/.exec(`${text}\n${stderr.all().join('\n')}`);
    const lost = lostMatch ? Number(lostMatch[1]) : 0;
    let received: number;
    let verified: boolean;
    if (name === 'bpftrace-count') {
      received = Number(/@calls: (\d+)/.exec(text)?.[1] ?? -1);
      verified = received === context.calls;
    } else {
      const values = text.split('\n').filter((l) => /^-?\d+$/.test(l));
      received = values.length;
      const sum = values.reduce((s, v) => s + BigInt(v), 0n);
      const n = BigInt(context.calls);
      verified = received === context.calls && sum === (n * (n - 1n)) / 2n;
    }
    return {
      path: name,
      run,
      probesPerCall: 1,
      floor: 'floor-entry',
      received,
      expected: context.calls,
      lost,
      ...(name === 'bpftrace-printf' ? { consumerCpuNs } : {}),
      verified,
      note: name === 'bpftrace-count' ? '@calls = count()' : 'printf("%d\\n", reg("ax")) into a file',
    };
  } finally {
    if (child.exitCode === null) child.kill('SIGINT');
    await ended(child);
  }
}

/** CPU time (user + system, all threads) of a process so far, from /proc (10 ms ticks). */
function processCpuNs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5) are utime and stime; after "pid (comm) " field 3 is index 0.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e9) / CLOCK_TICKS_PER_SECOND;
}

/** `getconf CLK_TCK` on Linux/x86-64. */
const CLOCK_TICKS_PER_SECOND = 100;

function countLines(file: string): number {
  if (!existsSync(file)) return 0;
  const data = readFileSync(file);
  let n = 0;
  for (const byte of data) if (byte === 10) n++;
  return n;
}

/** Lines a child prints (stdout, else stderr), and a way to wait for one. */
function collectLines(child: ChildProcess): { waitFor(match: (line: string) => boolean, timeoutMs: number): Promise<string>; all(): string[] } {
  const lines: string[] = [];
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  let partial = '';
  const onData = (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.match(line)) w.resolve(line);
        else waiters.push(w);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  return {
    all: () => lines,
    waitFor: (match, timeoutMs) => {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; the consumer printed:\n${lines.slice(-20).join('\n')}`)), timeoutMs);
        const onExit = () => reject(new Error(`the consumer exited (${child.exitCode ?? child.signalCode}):\n${lines.slice(-20).join('\n')}`));
        // 'close', not 'exit': the last lines may still be in the pipe when the process exits.
        child.once('close', onExit);
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer);
            child.off('close', onExit);
            resolve(line);
          },
        });
      });
    },
  };
}

async function ended(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, 30_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
