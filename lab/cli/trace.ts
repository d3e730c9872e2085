/**
 * `golab trace`: the tutorial's tracer for any Go function. Attaches to the binary's path (so a
 * process started afterwards is traced, as in the tutorial), prints each event's raw bytes and
 * each call's decoded arguments and results, and detaches cleanly on Ctrl-C.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { execa, type ResultPromise } from 'execa';
import { ExitCode, GolabError } from '../errors.ts';
import { removeStaleUprobeEvents } from '../bcc/uprobe.ts';
import { ElfFile, findFunction } from '../elf/index.ts';
import { TraceSession, type TracedCall } from '../probe/session.ts';
import { processesRunning } from '../probe/processes.ts';
import { groupRewrites, parseRewrite, type RewriteSpec } from '../probe/rewrite-spec.ts';
import { formatValue, valueToJson, type NamedValue } from '../probe/values.ts';
import type { DecodedEvent, RewriteOutcome } from '../probe/decode.ts';
import type { RewriteValue } from '../probe/plan.ts';
import type { Transport } from '../probe/codegen.ts';
import { AggregateSession, formatAggregates } from '../probe/aggregate.ts';

/** Options of `golab trace`, as commander parses them. */
interface TraceCliOptions {
  binary: string;
  func: string[];
  rewrite: RewriteSpec[];
  allowWrite?: boolean;
  json?: boolean;
  raw: boolean;
  pid?: number;
  all?: boolean;
  typesFrom?: string;
  run?: boolean;
  duration?: number;
  transport: Transport | 'auto';
  allowLoss?: boolean;
  count?: boolean;
  latency?: boolean;
}

/** One call as `--json` prints it (a line each). */
export function callToJson(call: TracedCall): Record<string, unknown> {
  const named = (values: readonly NamedValue[]) => Object.fromEntries(values.map((v) => [v.name, valueToJson(v.value)]));
  return {
    function: call.function,
    pid: call.pid,
    tid: call.tid,
    args: named(call.args),
    results: call.results ? named(call.results) : null,
    rewrites: call.rewrites.map(outcomeToJson),
    restarts: call.restarts,
    durationNs: call.returnKtimeNs === undefined ? null : (call.returnKtimeNs - call.entryKtimeNs).toString(),
  };
}

/** A rewrite outcome as `--json` prints it: integers as decimal strings, like values. */
function outcomeToJson(outcome: RewriteOutcome): Record<string, unknown> {
  return {
    param: outcome.param,
    value: typeof outcome.value === 'bigint' ? outcome.value.toString() : outcome.value,
    via: outcome.via,
    ok: outcome.ok,
    ...(outcome.errno === undefined ? {} : { errno: outcome.errno }),
    ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
  };
}

/** A rewrite's value as `--rewrite` takes it: `2021`, `false`, `"abc"`. */
function formatRewriteValue(value: RewriteValue): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * One call as text: `main.f(a=1, b=true) => (r0=2)`, then a line for each rewrite that was not
 * done, e.g. `  rewrite t="TAB…" failed: its data (0x4b1234) is in the binary's read-only segment, …`.
 * The arguments are those read before the rewrite, so a done rewrite needs no line; a failed one
 * would otherwise pass for done.
 */
export function formatCall(call: TracedCall): string {
  const list = (values: readonly NamedValue[]) => values.map((v) => `${v.name}=${formatValue(v.value)}`).join(', ');
  const results = call.results === undefined ? ' => (no return seen)' : call.results.length ? ` => (${list(call.results)})` : '';
  const failed = call.rewrites.filter((r) => !r.ok).map((r) => `\n  rewrite ${r.param}=${formatRewriteValue(r.value)} failed: ${r.reason ?? 'no reason reported'}`);
  return `${call.function}(${list(call.args)})${results}${failed.join('')}`;
}

/** The event's value bytes in the tutorial's `[100 0 0 0 …]` style. */
export function formatRawEvent(raw: Buffer, event: DecodedEvent): string {
  const bytes: number[] = [];
  for (const read of event.spec.reads) {
    if (read.unreadable) continue;
    bytes.push(...raw.subarray(read.slot, read.slot + read.type.size));
  }
  return `${event.spec.kind} ${event.spec.function} [${bytes.join(' ')}]`;
}

/** Registers `golab trace`. */
export function registerTrace(program: Command): void {
  program
    .command('trace')
    .description('trace a Go function\'s arguments and results with uprobes (and rewrite arguments with --rewrite --allow-write)')
    .requiredOption('--binary <path>', 'the Go executable')
    .requiredOption('--func <symbol>', 'function to trace, e.g. main.ebpfDemo or \'main.(*Account).Transfer\' (repeatable)', collect, [])
    .option('--rewrite <param=value>', 'overwrite an argument at entry, e.g. a1=2021 (repeatable; needs --allow-write)', (v: string, all: RewriteSpec[]) => [...all, parseRewrite(v)], [])
    .option('--allow-write', 'allow rewrites: they change the traced program\'s memory or registers')
    .option('--json', 'print one JSON object per call')
    .option('--no-raw', 'do not print each event\'s raw bytes')
    .option('--pid <pid>', 'trace only this process', (v) => Number.parseInt(v, 10))
    .option('--all', 'trace every process running the binary')
    .option('--types-from <path>', 'read argument types from this unstripped build of the same source')
    .option('--run', 'start the binary (with the arguments after --) once attached, and stop when it exits')
    .option('--duration <seconds>', 'stop after this many seconds', (v) => Number(v))
    .option('--transport <kind>', 'auto, ring or perf', 'auto')
    .option('--allow-loss', 'exit 0 even if events were lost')
    .option('--count', 'count calls in a BPF map instead of sending an event per call (for hot functions)')
    .option('--latency', 'also keep a log2 histogram of call latency in a BPF map (implies --count)')
    .allowExcessArguments(true)
    .argument('[args...]', 'arguments for the binary with --run')
    .action(async (args: string[], options: TraceCliOptions) => {
      process.exitCode = await runTrace(args, options);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function runTrace(args: string[], options: TraceCliOptions): Promise<number> {
  removeStaleUprobeEvents();
  // Mistakes in the command line first: a wrong path or function name is reported as such,
  // whoever else happens to run the binary.
  const binary = ElfFile.open(options.binary);
  for (const name of options.func) findFunction(binary, name);
  if (options.pid === undefined && !options.all && !options.run) {
    const others = processesRunning(options.binary);
    if (others.length > 0) {
      throw new GolabError('BINARY_IN_USE', `${others.length} running process(es) use ${options.binary}: ${others.join(', ')}`, {
        hint: 'say which with --pid PID, or trace them all with --all',
        exitCode: ExitCode.usage,
      });
    }
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (options.count || options.latency) return runAggregate(args, options, out);
  const session = await TraceSession.start({
    binaryPath: options.binary,
    functions: options.func,
    rewrites: groupRewrites(options.rewrite, options.func),
    allowWrite: options.allowWrite === true,
    transport: options.transport,
    ...(options.pid === undefined ? {} : { pid: options.pid }),
    ...(options.typesFrom === undefined ? {} : { typesFrom: options.typesFrom }),
    onCall: (call) => out(options.json ? JSON.stringify(callToJson(call)) : formatCall(call)),
    ...(options.raw && !options.json ? { onEvent: (raw: Buffer, event: DecodedEvent) => out(formatRawEvent(raw, event)) } : {}),
  });
  const abis = [...new Set(session.functions.map((f) => f.signature.abi))].join(',');
  // On stderr also with --json (stdout stays JSON lines): it says every probe is attached, which
  // scripts that start the traced work afterwards wait for.
  process.stderr.write(`Trace ${options.binary} on func [${options.func.join(' ')}] (${abis}, ${session.program.probes.length} uprobes, ${session.transport} buffer); Ctrl-C to stop\n`);

  const reason = await waitForEnd(args, options);
  await session.stop();
  if (session.lostEvents > 0) {
    process.stderr.write(`golab: ${session.lostEvents} events were lost (the buffer was full)\n`);
    if (!options.allowLoss) {
      process.stderr.write('hint: trace fewer or less frequently called functions, or pass --allow-loss to accept a partial trace\n');
      return ExitCode.checkFailed;
    }
  }
  return exitCodeFor(reason);
}

/** `--count` / `--latency`: counts and histograms kept in BPF maps, printed at the end. */
async function runAggregate(args: string[], options: TraceCliOptions, out: (line: string) => void): Promise<number> {
  const mode = options.latency ? 'latency' : 'count';
  const session = await AggregateSession.start({
    binaryPath: options.binary,
    functions: options.func,
    mode,
    ...(options.pid === undefined ? {} : { pid: options.pid }),
  });
  if (!options.json) {
    process.stderr.write(`Aggregate ${mode} of ${options.binary} on func [${options.func.join(' ')}] (${session.probeCount} uprobes, by ${session.callerKey}); Ctrl-C to stop\n`);
  }
  const reason = await waitForEnd(args, options);
  out(formatAggregates(await session.stop(), options.json === true));
  return exitCodeFor(reason);
}

/** Waits for Ctrl-C, SIGTERM, --duration or the end of the --run tracee; says which. */
async function waitForEnd(args: string[], options: TraceCliOptions): Promise<string> {
  let tracee: ResultPromise | undefined;
  const done = new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => resolve(signal);
    // Not process.once: execa's signal-exit handler re-raises a signal that no other listener
    // is left to handle, which killed golab by SIGINT before it could detach and say 130. The
    // listeners stay for the life of the process, so a second Ctrl-C during the detach is
    // ignored too instead of killing golab halfway.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (options.duration !== undefined) setTimeout(() => resolve('duration'), options.duration * 1000).unref();
    if (options.run) {
      const [file, ...argv] = traceeCommand(options.binary, args);
      tracee = execa(file!, argv, { stdout: 'inherit', stderr: 'inherit', stdin: 'inherit', reject: false });
      void tracee.then(() => resolve('exit'));
    }
  });
  const reason = await done;
  if (tracee && reason !== 'exit') tracee.kill('SIGTERM');
  return reason;
}

/**
 * The command that starts a --run tracee: through `setpriv --pdeathsig SIGKILL` where util-linux
 * has it, so the tracee dies with golab even when golab is killed with SIGKILL (it would
 * otherwise be left running, reparented to init). setpriv execs the binary: the pid, the
 * executable and so the uprobes are the tracee's own.
 */
function traceeCommand(binary: string, args: readonly string[]): string[] {
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path));
  return setpriv ? [setpriv, '--pdeathsig', 'SIGKILL', '--', binary, ...args] : [binary, ...args];
}

function exitCodeFor(reason: string): number {
  if (reason === 'SIGINT') return ExitCode.interrupted;
  if (reason === 'SIGTERM') return 128 + 15;
  return ExitCode.ok;
}
