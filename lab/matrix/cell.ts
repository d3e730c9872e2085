/**
 * One matrix cell on the running kernel: the zoo built by one toolchain in one mode, every zoo
 * function traced and (where the kernel allows) rewritten in ONE run, and each function's
 * three checks classified against the zoo's own printout.
 *
 * Why one run per cell: a BCC compile is the dominant cost (seconds here, minutes under TCG), and
 * the probe reads each argument before it rewrites it. So the `args` check compares what the
 * probe read with the printout of this run, except for a rewritten parameter, which is compared
 * with the printout of an unprobed run (what the call was given before the rewrite); the
 * `rewrite` check then looks for the new value in this run's printout.
 */
import { execa } from 'execa';
import type { KernelCapabilities } from '../bcc/capabilities.ts';
import { ElfFile } from '../elf/index.ts';
import { GolabError } from '../errors.ts';
import type { TracedCall } from '../probe/calls.ts';
import type { RewriteStep, RewriteValue } from '../probe/plan.ts';
import { ModuleCache, planSession, TraceSession, type SessionFunction } from '../probe/session.ts';
import type { BuildMode, Toolchain } from '../toolchain/types.ts';
import { parseZooOutput, type ZooCall } from '../../tracee/zoo/output.ts';
import { ZOO_FUNCTIONS, type ZooFunction } from '../../tracee/zoo/signatures.ts';
import { classifyCheck, sameForAll, type ClassifiedValue } from './classify.ts';
import { compareValue } from './compare.ts';
import { rewriteCandidates, type RewriteChoice } from './rewrite.ts';
import type { CheckResult, FunctionResult } from './types.ts';

/** What one cell needs. */
export interface CellInput {
  readonly toolchain: Toolchain;
  readonly mode: BuildMode;
  /** The zoo binary of this toolchain and mode. */
  readonly binary: string;
  /** For stripped builds: the default build of the same toolchain, whose DWARF gives the types. */
  readonly typesFrom?: string;
  readonly capabilities: KernelCapabilities;
  /** Compiled modules shared by the cells that run one after another. */
  readonly modules: ModuleCache;
  /** Limit for each zoo run. */
  readonly timeoutMs?: number;
  /** Awaited before the cell starts any process (the previous cell's detaching). */
  readonly settled?: Promise<void>;
  /** How uprobes attach (see TraceOptions.attach); default `auto`: links where the kernel has them. */
  readonly attach?: 'perf' | 'auto';
}

/** What one cell produced. */
export interface CellOutput {
  readonly functions: FunctionResult[];
  /** Set when the cell could not run; every function then carries the error as a `fail`. */
  readonly error?: string;
  /** Resolves when the session's uprobes are gone (the caller awaits these at the end). */
  readonly detached: Promise<void>;
  /** Wall time of each phase, in ms: planning, waiting for the previous cell, unprobed run, rewrite choice, session start (compile, attach), traced run, stop. */
  readonly timings?: Readonly<Record<string, number>>;
}

/** A function the session traces, and the rewrite chosen for it. */
interface PlannedZooFunction {
  readonly zoo: ZooFunction;
  readonly symbol: string;
  readonly planned: SessionFunction;
  /** The rewrite to make, when the kernel allows its mechanism. */
  readonly rewrite?: { readonly choice: RewriteChoice; readonly step: RewriteStep };
  /** The rewrite check decided before the run (unsupported, or nothing to rewrite). */
  readonly rewriteDecided?: CheckResult;
}

/** The symbol the toolchain gives a zoo function. */
export function zooSymbolFor(fn: ZooFunction, toolchain: Pick<Toolchain, 'kind'>): string {
  return toolchain.kind === 'gccgo' ? fn.gccgoSymbol : fn.gcSymbol;
}

/** Runs the zoo to the end without probes and parses its printout. */
async function runUnprobed(binary: string, timeoutMs: number): Promise<ZooCall[]> {
  const run = await execa(binary, [], { input: 'go\n', timeout: timeoutMs, reject: false });
  if (run.exitCode !== 0) throw new Error(`the unprobed zoo exited with ${run.exitCode ?? run.signal}: ${run.stderr.slice(-300)}`);
  return parseZooOutput(run.stdout);
}

function describe(error: unknown): string {
  if (error instanceof GolabError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** How a rewrite step writes, in words, and the capability it needs. */
function mechanism(step: RewriteStep): { words: string; capability: 'probeWriteUser' | 'ctxRegisterWrite' } {
  switch (step.via) {
    case 'reg':
      return { words: `in ${step.reg.toUpperCase()}, a ctx register write`, capability: 'ctxRegisterWrite' };
    case 'stack':
      return { words: 'on the stack, bpf_probe_write_user', capability: 'probeWriteUser' };
    case 'string-data':
      return { words: 'string data, bpf_probe_write_user', capability: 'probeWriteUser' };
  }
}

/** Kept here for lab/matrix's callers; the session uses it to classify failed string writes. */
export { isReadOnlyAddress } from '../probe/session.ts';

/** A zoo function whose reads are planned. */
interface ReadPlan {
  readonly zoo: ZooFunction;
  readonly symbol: string;
  readonly session: SessionFunction;
}

/** A zoo function that could not be planned, and why. */
interface PlanFailure {
  readonly zoo: ZooFunction;
  readonly symbol: string;
  readonly error: unknown;
}

/**
 * Plans every zoo function's reads, each alone, so one that cannot be planned does not take the
 * others down. Needs no process: it overlaps the previous cell's detaching.
 */
function planReads(input: CellInput, binary: ElfFile, typesFrom: ElfFile): { reads: ReadPlan[]; failed: Map<string, PlanFailure> } {
  const reads: ReadPlan[] = [];
  const failed = new Map<string, PlanFailure>();
  for (const zoo of ZOO_FUNCTIONS) {
    const symbol = zooSymbolFor(zoo, input.toolchain);
    try {
      reads.push({ zoo, symbol, session: planSession(binary, typesFrom, { functions: [symbol] })[0]! });
    } catch (error) {
      failed.set(zoo.func, { zoo, symbol, error });
    }
  }
  return { reads, failed };
}

/**
 * Picks each function's rewrite: the first int, bool or string parameter the planner can
 * rewrite, with a value derived from the unprobed printout. It is made only when the kernel
 * allows its mechanism; otherwise the check is decided here as `unsupported` with the probe's
 * reason.
 */
function chooseRewrites(
  input: CellInput,
  binary: ElfFile,
  typesFrom: ElfFile,
  reads: readonly ReadPlan[],
  unprobed: ReadonlyMap<string, ZooCall>,
): PlannedZooFunction[] {
  return reads.map(({ zoo, symbol, session }) => {
    const printed = unprobed.get(zoo.func);
    const { candidates, reasons } = rewriteCandidates(session.signature.signature.params, printed?.args ?? {});
    let rewrite: PlannedZooFunction['rewrite'];
    let rewriteDecided: CheckResult | undefined;
    for (const choice of candidates) {
      let step: RewriteStep | undefined;
      try {
        const plan = planSession(binary, typesFrom, {
          functions: [symbol],
          rewrites: new Map([[symbol, new Map<string, RewriteValue>([[choice.param, choice.value]])]]),
          allowWrite: true,
        })[0]!.plan;
        step = plan.probes.find((p) => p.kind === 'entry')?.rewrites[0];
      } catch (error) {
        reasons.push(`${choice.param}: ${error instanceof Error ? error.message.replace(/^cannot rewrite \S+: /, '') : String(error)}`);
        continue;
      }
      if (!step) {
        reasons.push(`${choice.param}: the planner made no rewrite step`);
        continue;
      }
      const how = mechanism(step);
      const capability = input.capabilities[how.capability];
      if (capability.ok) rewrite = { choice, step };
      else rewriteDecided = { status: 'unsupported', reason: `${choice.param} (${how.words}): ${capability.reason}` };
      break;
    }
    if (!rewrite && !rewriteDecided) rewriteDecided = { status: 'unsupported', reason: reasons.join('; ') };
    return { zoo, symbol, planned: session, ...(rewrite ? { rewrite } : {}), ...(rewriteDecided ? { rewriteDecided } : {}) };
  });
}

/** Runs one cell. Never throws: a cell that cannot run reports its error in every function. */
export async function runCell(input: CellInput): Promise<CellOutput> {
  const timeoutMs = input.timeoutMs ?? 60_000;
  const allFailed = (why: string): CellOutput => ({
    functions: ZOO_FUNCTIONS.map((zoo) => ({
      func: zoo.func,
      symbol: zooSymbolFor(zoo, input.toolchain),
      checks: sameForAll({ status: 'fail', reason: why }),
    })),
    error: why,
    detached: Promise.resolve(),
  });
  if (!input.capabilities.uprobeRead.ok) {
    const reason = `uprobe reads: ${input.capabilities.uprobeRead.reason}`;
    return {
      functions: ZOO_FUNCTIONS.map((zoo) => ({
        func: zoo.func,
        symbol: zooSymbolFor(zoo, input.toolchain),
        checks: sameForAll({ status: 'unsupported', reason }),
      })),
      detached: Promise.resolve(),
    };
  }

  const timings: Record<string, number> = {};
  let mark = Date.now();
  const lap = (phase: string) => {
    const now = Date.now();
    timings[phase] = now - mark;
    mark = now;
  };
  let unprobed: Map<string, ZooCall>;
  let binary: ElfFile;
  let typesFrom: ElfFile;
  let reads: ReadPlan[];
  let failed: Map<string, PlanFailure>;
  try {
    binary = ElfFile.open(input.binary);
    typesFrom = input.typesFrom ? ElfFile.open(input.typesFrom) : binary;
    ({ reads, failed } = planReads(input, binary, typesFrom));
    lap('plan');
    // Starting processes while uprobes go away is slow (exec waits on the kernel's uprobe
    // locks): let the previous cell's detaching finish first.
    await input.settled;
    lap('settle');
    unprobed = new Map((await runUnprobed(input.binary, timeoutMs)).map((c) => [c.func, c]));
    lap('unprobed');
  } catch (error) {
    return allFailed(describe(error));
  }
  const planned = chooseRewrites(input, binary, typesFrom, reads, unprobed);
  lap('rewrites');

  const calls: TracedCall[] = [];
  const rewrites = new Map(
    planned.filter((p) => p.rewrite).map((p) => [p.symbol, new Map<string, RewriteValue>([[p.rewrite!.choice.param, p.rewrite!.choice.value]])]),
  );

  if (planned.length === 0) {
    // Nothing to trace (e.g. a stripped gccgo binary, where no function can be found).
    const functions = ZOO_FUNCTIONS.map((zooFn) => {
      const symbol = zooSymbolFor(zooFn, input.toolchain);
      return { func: zooFn.func, symbol, checks: sameForAll(planFailureCheck(zooFn, symbol, failed.get(zooFn.func)?.error)) };
    });
    return { functions, detached: Promise.resolve(), timings };
  }

  // No execa timeout: the clock must start when the zoo is told to go, not at its spawn, since
  // the session's BCC compile in between takes a minute or more under TCG.
  const zoo = execa(input.binary, [], { stdin: 'pipe', reject: false });
  let runTimer: NodeJS.Timeout | undefined;
  let session: TraceSession | undefined;
  let printed: Map<string, ZooCall>;
  try {
    session = await TraceSession.start({
      binaryPath: input.binary,
      functions: planned.map((p) => p.symbol),
      pid: zoo.pid!,
      ...(input.typesFrom ? { typesFrom: input.typesFrom } : {}),
      ...(rewrites.size > 0 ? { rewrites, allowWrite: true } : {}),
      modules: input.modules,
      attach: input.attach ?? 'auto',
      onCall: (call) => calls.push(call),
    });
    lap('start');
    zoo.stdin!.end('go\n');
    runTimer = setTimeout(() => zoo.kill('SIGKILL'), timeoutMs);
    const result = await zoo;
    clearTimeout(runTimer);
    lap('run');
    if (result.exitCode !== 0) {
      const why = result.signal === 'SIGKILL' ? `did not finish within ${timeoutMs / 1000} s` : `exited with ${result.exitCode ?? result.signal}`;
      throw new Error(`the traced zoo ${why}: ${result.stderr.slice(-300)}`);
    }
    printed = new Map(parseZooOutput(result.stdout).map((c) => [c.func, c]));
  } catch (error) {
    clearTimeout(runTimer);
    zoo.kill('SIGKILL');
    await zoo.catch(() => undefined);
    await session?.stop({ waitForDetach: false });
    return { ...allFailed(describe(error)), detached: session?.detached ?? Promise.resolve(), timings };
  }
  // The zoo has exited: nothing more can arrive, so the probes may go in the background.
  await session.stop({ waitForDetach: false });
  lap('stop');
  const detached = session.detached;

  const functions: FunctionResult[] = ZOO_FUNCTIONS.map((zooFn) => {
    const symbol = zooSymbolFor(zooFn, input.toolchain);
    const planFailure = failed.get(zooFn.func);
    if (planFailure) {
      return { func: zooFn.func, symbol, checks: sameForAll(planFailureCheck(zooFn, symbol, planFailure.error)) };
    }
    const p = planned.find((entry) => entry.zoo.func === zooFn.func)!;
    return classifyFunction(p, calls, printed.get(zooFn.func), unprobed.get(zooFn.func), input.toolchain);
  });
  return { functions, detached, timings };
}

/**
 * The check for a function that could not be planned: `unsupported` for what the binary cannot
 * offer (a function inlined everywhere; a stripped gccgo binary, which keeps neither a symbol
 * table nor a Go function table to find functions in), `fail` for anything else.
 */
export function planFailureCheck(fn: Pick<ZooFunction, 'inlined'>, symbol: string, error: unknown): CheckResult {
  const code = error instanceof GolabError ? error.code : undefined;
  if (code === 'GO_STRIPPED_NO_PCLNTAB') {
    return { status: 'unsupported', reason: `the stripped binary has no symbol table and no Go function table to find ${symbol} in (${code})` };
  }
  if (fn.inlined && (code === 'FUNCTION_INLINED' || code === 'FUNCTION_NOT_FOUND')) {
    return { status: 'unsupported', reason: `the compiler inlined every call of ${symbol}: no code of its own to probe (${code})` };
  }
  return { status: 'fail', reason: `cannot plan the probes: ${describe(error)}` };
}

/** The three checks of one traced function. */
function classifyFunction(
  p: PlannedZooFunction,
  allCalls: readonly TracedCall[],
  printed: ZooCall | undefined,
  unprobed: ZooCall | undefined,
  toolchain: Toolchain,
): FunctionResult {
  const base = { func: p.zoo.func, symbol: p.symbol };
  if (!printed) return { ...base, checks: sameForAll({ status: 'fail', reason: 'the zoo did not print this call in the traced run' }) };
  const calls = allCalls.filter((c) => c.function === p.symbol).sort((a, b) => (a.entryKtimeNs < b.entryKtimeNs ? -1 : 1));
  if (calls.length === 0) {
    return {
      ...base,
      checks: sameForAll(
        p.zoo.inlined
          ? { status: 'unsupported', reason: `the compiler inlined every call of ${p.symbol}: no call reaches its entry (0 traced)` }
          : { status: 'fail', reason: `no call of ${p.symbol} was traced; the zoo made one` },
      ),
    };
  }
  // A rewritten call may show twice: a stack-growth restart re-runs the entry probe after the
  // rewrite, which reads the new value. Without a rewrite such restarts fold into one call.
  if (calls.length > 1 && !p.rewrite) {
    return { ...base, checks: sameForAll({ status: 'fail', reason: `${calls.length} calls of ${p.symbol} traced; the zoo made one` }) };
  }
  const argsCall = calls[0]!;
  const resultsCall = calls.find((c) => c.results !== undefined) ?? argsCall;
  const signature = p.planned.signature.signature;

  const args: ClassifiedValue[] = Object.entries(printed.args).map(([name, text]) => {
    const original = p.rewrite?.choice.param === name ? (unprobed?.args[name] ?? p.rewrite.choice.original) : text;
    const comparison = compareValue(p.zoo.func, 'arg', name, original, argsCall.args.find((v) => v.name === name)?.value);
    const described = signature.params.some((param) => param.name === name);
    return described ? { comparison } : { comparison, undescribed: `the DWARF describes no parameter ${name} of ${p.symbol}` };
  });
  const results: ClassifiedValue[] = Object.entries(printed.results).map(([name, text]) => {
    const comparison = compareValue(p.zoo.func, 'result', name, text, resultsCall.results?.find((v) => v.name === name)?.value);
    if (signature.results.some((r) => r.name === name)) return { comparison };
    const why =
      signature.results.length === 0
        ? `the DWARF describes no results of ${p.symbol}${toolchain.kind === 'gccgo' ? ' (gccgo emits no result entries)' : ''}`
        : `the DWARF describes no result ${name} of ${p.symbol}`;
    return { comparison, undescribed: why };
  });

  const argsCheck = classifyCheck(args, 'arguments');
  const resultsCheck = classifyCheck(results, 'results');
  const restartNote = calls.length > 1 ? [`the entry probe fired ${calls.length} times (a stack-growth restart after the rewrite)`] : [];
  return {
    ...base,
    checks: {
      args: restartNote.length > 0 && argsCheck.status === 'pass' ? { ...argsCheck, notes: [...(argsCheck.notes ?? []), ...restartNote] } : argsCheck,
      results: resultsCheck,
      rewrite: p.rewriteDecided ?? classifyRewrite(p.rewrite!, printed, argsCall),
    },
  };
}

/**
 * Did the zoo print the new value? When not, the probe's reported outcome of the write says why:
 * a string literal's bytes are in the read-only segment, which no probe can write (unsupported).
 */
function classifyRewrite(rewrite: NonNullable<PlannedZooFunction['rewrite']>, printed: ZooCall, call: TracedCall): CheckResult {
  const { choice, step } = rewrite;
  const seen = printed.args[choice.param];
  const how = mechanism(step).words;
  if (seen === choice.printed) return { status: 'pass', notes: [`${choice.param}: ${choice.original} → ${choice.printed} (${how})`] };
  const outcome = call.rewrites.find((r) => r.param === choice.param);
  if (step.via === 'string-data' && seen === choice.original && outcome?.readOnly) {
    return { status: 'unsupported', reason: `${choice.param}: ${outcome.reason}` };
  }
  const reported = outcome && !outcome.ok && outcome.reason ? `: ${outcome.reason}` : '';
  return {
    status: 'fail',
    reason: `the zoo did not print the rewritten ${choice.param} (${how})${reported}`,
    expected: `${choice.param}=${choice.printed}`,
    seen: `${choice.param}=${seen ?? '(not printed)'}`,
  };
}
