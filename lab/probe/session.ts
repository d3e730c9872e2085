/**
 * A trace session: functions of one binary traced (and optionally rewritten) through one BCC
 * module, until stopped. Entry probes read the arguments, spill probes read float arguments
 * after the function stores them, and probes on every RET read the results — never uretprobes,
 * which corrupt Go's moving stacks.
 */
import { probeCapabilities } from '../bcc/capabilities.ts';
import { BpfModule, PerfBuffer, RingBuffer, Uprobe, loadLibBcc } from '../bcc/index.ts';
import { BPF_TRACE_UPROBE_MULTI, UprobeLink } from '../bcc/uprobe-link.ts';
import { layoutFunction } from '../abi/layout.ts';
import { ExitCode, GolabError } from '../errors.ts';
import { ElfFile, findFunction, functionBytes, type GoFunction } from '../elf/index.ts';
import { CallAssembler, type TracedCall } from './calls.ts';
import { generateProgram, type GeneratedProgram, type Transport } from './codegen.ts';
import { decodeEvent, type DecodedEvent, type ReadOnlyTest } from './decode.ts';
import { findFirstXmmSpill, findReturnOffsets } from './disasm.ts';
import {
  planFunction,
  RewritePlanError,
  type FloatSpill,
  type FunctionPlan,
  type ProbeSpec,
  type ReadLimits,
  type RewriteValue,
} from './plan.ts';
import { openTypesFrom, resolveSignature, type ResolvedSignature } from './signature.ts';
import { typeNamerFor } from './typenames.ts';

/**
 * Compiled modules by program text, shared by sessions that run one after another (the matrix
 * traces default, PIE and stripped builds with one compile). A module in use by a running
 * session must not be used by another: both would read the same event buffer.
 */
export class ModuleCache implements Disposable {
  readonly #modules = new Map<string, BpfModule>();
  /** Compiles on first use. */
  get(text: string): BpfModule {
    let module = this.#modules.get(text);
    if (!module) {
      module = BpfModule.compile(text);
      this.#modules.set(text, module);
    }
    return module;
  }
  /** How many distinct programs were compiled. */
  get size(): number {
    return this.#modules.size;
  }
  /** Frees every module. */
  dispose(): void {
    for (const module of this.#modules.values()) module.dispose();
    this.#modules.clear();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Events are delivered in batches at most this many ms old. Each wakeup of the reader costs
 * the traced thread an irq_work and the reader a poll round trip, so waking once per batch
 * instead of once per event keeps a hot function's cost near the bare-uprobe floor
 * (bench/: `npm run bench`).
 */
const DELIVERY_BATCH_MS = 20;
/** Ring buffer pages (4 MiB): ~50,000 small events, many batches' worth at full call rate. */
const RING_PAGES = 1024;
/** A perf buffer wakes its reader every this many events per CPU; the rest wait for a drain. */
const PERF_WAKEUP_EVENTS = 64;

/** Options of {@link TraceSession.start}. */
export interface TraceOptions {
  readonly binaryPath: string;
  /** Function symbols, e.g. `main.ebpfDemo`, `main.(*Account).Transfer`. */
  readonly functions: readonly string[];
  /** A build of the same source with DWARF, for stripped binaries. */
  readonly typesFrom?: string;
  /** Trace only this process; by default every process running the binary (and future ones). */
  readonly pid?: number;
  /** Arguments to overwrite, per function, per parameter name. */
  readonly rewrites?: ReadonlyMap<string, ReadonlyMap<string, RewriteValue>>;
  /** Rewrites change another program's memory or registers: they need this explicit consent. */
  readonly allowWrite?: boolean;
  /** Event transport; `auto` picks the ring buffer where the kernel has it. */
  readonly transport?: Transport | 'auto';
  readonly limits?: ReadLimits;
  /** Called for each call when it returns (or when the session stops, for open calls). */
  readonly onCall: (call: TracedCall) => void;
  /** Called for every event, raw and decoded (for `--raw`). */
  readonly onEvent?: (raw: Buffer, event: DecodedEvent) => void;
  /** Reuse compiled modules from this cache (the session then leaves them to the cache). */
  readonly modules?: ModuleCache;
  /**
   * Deliver events in batches at most this many ms late (default 20), waking the reader once
   * per batch; 0 wakes it for every event, which costs a hot function far more (bench/).
   */
  readonly batchMs?: number;
  /**
   * How uprobes are attached: `perf` (perf events, every kernel; the default) or `auto`
   * (uprobe-multi BPF links where the kernel has them, Linux ≥ 6.6, else perf events). Links
   * detach in parallel instead of one by one under the kernel's event_mutex, which matters to
   * callers that start many sessions (the matrix). See lab/bcc/uprobe-link.ts.
   */
  readonly attach?: 'perf' | 'auto';
}

/** One planned function of a session. */
export interface SessionFunction {
  readonly fn: GoFunction;
  readonly signature: ResolvedSignature;
  readonly plan: FunctionPlan;
}

/** A running trace. Stop it to detach everything. */
export class TraceSession implements AsyncDisposable {
  readonly functions: readonly SessionFunction[];
  readonly program: GeneratedProgram;
  readonly transport: Transport;
  readonly #module: BpfModule;
  readonly #probes: (Uprobe | UprobeLink)[];
  readonly #reader: PerfBuffer | RingBuffer;
  readonly #assembler: CallAssembler;
  readonly #ownsModule: boolean;
  #stopped = false;

  private constructor(parts: {
    functions: SessionFunction[];
    program: GeneratedProgram;
    transport: Transport;
    module: BpfModule;
    probes: (Uprobe | UprobeLink)[];
    reader: PerfBuffer | RingBuffer;
    assembler: CallAssembler;
    ownsModule: boolean;
  }) {
    this.#ownsModule = parts.ownsModule;
    this.functions = parts.functions;
    this.program = parts.program;
    this.transport = parts.transport;
    this.#module = parts.module;
    this.#probes = parts.probes;
    this.#reader = parts.reader;
    this.#assembler = parts.assembler;
  }

  /** Plans, compiles, loads and attaches every probe, and starts delivering calls. */
  static async start(options: TraceOptions): Promise<TraceSession> {
    const binary = ElfFile.open(options.binaryPath);
    const typesFrom = openTypesFrom(binary, options.typesFrom);
    const functions = planSession(binary, typesFrom, options);
    const bcc = loadLibBcc();
    const transport = await chooseTransport(options.transport ?? 'auto');
    const program = generateProgram(
      functions.map((f) => f.plan),
      { transport, ringPages: RING_PAGES },
    );
    const specs = new Map<number, ProbeSpec>(program.probes.map((p) => [p.spec.id, p.spec]));
    const module = options.modules ? options.modules.get(program.text) : BpfModule.compile(program.text, { libbcc: bcc });
    const ownsModule = options.modules === undefined;
    const probes: (Uprobe | UprobeLink)[] = [];
    let reader: PerfBuffer | RingBuffer | undefined;
    try {
      const keyByGoroutine = functions.every((f) => f.signature.abi === 'abiinternal');
      const assembler = new CallAssembler(options.onCall, keyByGoroutine);
      const namer = typeNamerFor(typesFrom === binary ? binary : typesFrom);
      // The traced binary's own segments: a stripped build's layout is not its twin's.
      const readOnly: ReadOnlyTest = (address) => isReadOnlyAddress(binary, address);
      const onData = (data: Buffer) => {
        const spec = specs.get(data.readUInt32LE(0));
        if (!spec) return;
        const event = decodeEvent(data, spec, namer, readOnly);
        options.onEvent?.(data, event);
        assembler.add(event);
      };
      const session: { lost: number } = { lost: 0 };
      const batchMs = options.batchMs ?? DELIVERY_BATCH_MS;
      // A cached module may have counted losses for an earlier session.
      const lostInKernel = arrayCounter(module, program.lostTable);
      lostInKernel.reset();
      reader =
        transport === 'ring'
          ? RingBuffer.open(module, program.table, onData, { lingerMs: batchMs })
          : PerfBuffer.open(module, program.table, onData, {
              pageCount: 256,
              ...(batchMs > 0 ? { wakeupEvents: PERF_WAKEUP_EVENTS, idleDrainMs: batchMs } : {}),
              onLost: (n) => (session.lost += n),
            });
      let viaLinks = options.attach === 'auto' && bcc.fn.bcc_func_load_attach !== undefined;
      for (const { spec, cFunction } of program.probes) {
        const target = { binaryPath: options.binaryPath, fileOffset: spec.fileOffset, ...(options.pid === undefined ? {} : { pid: options.pid }) };
        if (viaLinks) {
          try {
            probes.push(UprobeLink.attach(module.load(cFunction, { attachType: BPF_TRACE_UPROBE_MULTI }).fd, target));
            continue;
          } catch (error) {
            // The first probe finds out whether this kernel loads and links uprobe-multi
            // programs (before 6.6 it refuses one or the other); if not, perf events for all.
            // A real problem with the program shows again on the perf path and is thrown there.
            if (probes.length > 0) throw error;
            viaLinks = false;
          }
        }
        probes.push(Uprobe.attach(module.load(cFunction).fd, target, bcc));
      }
      reader.start();
      const instance = new TraceSession({ functions, program, transport, module, probes, reader, assembler, ownsModule });
      // The probes count every submit that failed; a perf buffer's own lost records arrive only
      // when a later event gets through, so they can only be fewer. Take the larger.
      instance.#lostSource = () => Math.max(session.lost, lostInKernel.read());
      return instance;
    } catch (error) {
      for (const probe of probes) probe.dispose();
      await reader?.stop();
      if (ownsModule) module.dispose();
      throw error;
    }
  }

  #lostSource: () => number = () => 0;
  /** The count read when the session stopped, before its module was freed. */
  #lostAtStop: number | undefined;

  /** Events the kernel dropped because the buffer was full. */
  get lostEvents(): number {
    return this.#lostAtStop ?? this.#lostSource();
  }

  /**
   * Resolves when every uprobe is gone. Each detach waits ~0.1 s for the kernel to sync, so a
   * session of many probes takes seconds; {@link stop} with `waitForDetach: false` returns
   * before that and leaves this promise to await.
   */
  detached: Promise<void> = Promise.resolve();

  /**
   * Detaches every probe, drains what is buffered, emits open calls and frees everything.
   * Idempotent. With `waitForDetach: false` (for callers whose tracee has already exited) it
   * does not wait for the kernel to finish removing the probes; see {@link detached}.
   */
  async stop(options: { waitForDetach?: boolean } = {}): Promise<void> {
    if (this.#stopped) return this.detached;
    this.#stopped = true;
    this.detached = Promise.all(this.#probes.map((probe) => probe.disposeAsync())).then(() => undefined);
    if (options.waitForDetach !== false) await this.detached;
    try {
      await this.#reader.stop();
      this.#assembler.flush();
    } finally {
      this.#lostAtStop = this.#lostSource();
      const module = this.#module;
      // Program fds may be freed only after the perf events using them are closed.
      if (this.#ownsModule) void this.detached.finally(() => module.dispose());
    }
    if (options.waitForDetach !== false) await this.detached;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Resolves, lays out and plans every requested function (no privileges needed). */
export function planSession(binary: ElfFile, typesFrom: ElfFile, options: Pick<TraceOptions, 'functions' | 'rewrites' | 'allowWrite' | 'limits'>): SessionFunction[] {
  if (options.rewrites && options.rewrites.size > 0 && !options.allowWrite) {
    throw new GolabError('REWRITE_NOT_ALLOWED', 'rewriting arguments changes the traced program\'s memory or registers', {
      hint: 'add --allow-write to confirm (see the README: what a rewrite can break)',
      exitCode: ExitCode.usage,
    });
  }
  let nextId = 0;
  return options.functions.map((name) => {
    const fn = findFunction(binary, name);
    const signature = resolveSignature(binary, name, typesFrom);
    const layout = layoutFunction(signature.signature, signature.abi);
    const code = functionBytes(binary, fn);
    const returnVaddrs = findReturnOffsets(code, fn.vaddr);
    const floatSpills: FloatSpill[] = [];
    if (signature.abi === 'abiinternal') {
      for (const param of layout.params) {
        for (const piece of param.pieces) {
          if (piece.where !== 'xmm') continue;
          const spill = findFirstXmmSpill(code, fn.vaddr, piece.index);
          if (spill) floatSpills.push({ xmmIndex: piece.index, ...spill });
        }
      }
    }
    let plan: FunctionPlan;
    try {
      plan = planFunction(
        { name, vaddr: fn.vaddr, fileOffset: fn.fileOffset, layout, returnVaddrs, floatSpills },
        { firstId: nextId, ...(options.limits ? { limits: options.limits } : {}), ...(options.rewrites?.get(name) ? { rewrites: options.rewrites.get(name)! } : {}) },
      );
    } catch (error) {
      if (error instanceof RewritePlanError) {
        throw new GolabError('REWRITE_INVALID', `cannot rewrite ${name}: ${error.message}`, {
          hint: 'rewrite integer, bool or same-length string parameters by their DWARF names',
          exitCode: ExitCode.usage,
        });
      }
      throw error;
    }
    nextId += plan.probes.length;
    return { fn, signature, plan };
  });
}

/**
 * True when `address` (load bias removed) lies in memory the process cannot write: a PT_LOAD
 * segment without PF_W, or PT_GNU_RELRO (made read-only after relocation). String literals
 * live there, and bpf_probe_write_user cannot write them.
 */
export function isReadOnlyAddress(elf: ElfFile, address: bigint): boolean {
  const PT_LOAD = 1;
  const PT_GNU_RELRO = 0x6474e552;
  const PF_W = 2;
  const within = (s: { vaddr: number; memsz: number }) => address >= BigInt(s.vaddr) && address < BigInt(s.vaddr) + BigInt(s.memsz);
  if (elf.segments.some((s) => s.type === PT_GNU_RELRO && within(s))) return true;
  const load = elf.segments.find((s) => s.type === PT_LOAD && within(s));
  return load !== undefined && (load.flags & PF_W) === 0;
}

/** The u64 in slot 0 of a one-element BPF_ARRAY, read and zeroed from user space. */
function arrayCounter(module: BpfModule, table: string): { read(): number; reset(): void } {
  const fd = module.tableFd(table);
  const key = Buffer.alloc(4);
  const fn = module.libbcc.fn;
  return {
    read: () => {
      const value = Buffer.alloc(8);
      return fn.bpf_lookup_elem(fd, key, value) === 0 ? Number(value.readBigUInt64LE(0)) : 0;
    },
    reset: () => void fn.bpf_update_elem(fd, key, Buffer.alloc(8), 0n),
  };
}

async function chooseTransport(wanted: Transport | 'auto'): Promise<Transport> {
  if (wanted !== 'auto') return wanted;
  const caps = await probeCapabilities();
  return caps.ringBuffer.ok ? 'ring' : 'perf';
}

export type { TracedCall };
