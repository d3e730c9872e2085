/**
 * From a function's layout (lab/abi) to probe specifications: where each uprobe goes, which
 * bytes it copies into its event and where, which pointers it follows, and which values it
 * cannot read and why. Pure: codegen.ts turns a plan into BPF C, decode.ts turns events back
 * into values with the same plan.
 *
 * Event layout, little-endian, shared by every probe:
 *
 *   0  u32 probe id      4  u32 thread id     8  u32 process id   12 u32 reserved
 *   16 u64 ktime (ns)    24 u64 sp            32 u64 ip           40 u64 r14 (g under ABIInternal)
 *   48 u64 failed-read bitmask, bit i = read i faulted
 *   56 value bytes and dereferenced data, at offsets fixed by the plan; after them, on an entry
 *      probe with rewrites, one s64 outcome per rewrite ({@link RewriteStep.resultAt})
 */
import type { FunctionLayout, IntReg, Piece, ValueLocation } from '../abi/layout.ts';
import type { GoType } from '../abi/types.ts';

/** Bytes before the first value in every event. */
export const EVENT_HEADER_SIZE = 56;
/** The largest event a probe may produce (bytes). */
export const EVENT_MAX_SIZE = 8192;
/** At most this many reads per probe can report a fault (bits of the header's bitmask). */
const MAX_READ_BITS = 64;

/** Bounds on what a probe copies out of the process. */
export interface ReadLimits {
  /** Bytes of string data copied per string. */
  readonly stringBytes: number;
  /** Elements of a slice copied. */
  readonly sliceElements: number;
  /** Bytes of a pointed-to value copied. */
  readonly pointeeBytes: number;
  /** How many pointers deep to follow (1: a pointer's target, not pointers inside it). */
  readonly depth: number;
}

/** The default {@link ReadLimits}. */
export const DEFAULT_LIMITS: ReadLimits = { stringBytes: 64, sliceElements: 8, pointeeBytes: 128, depth: 2 };

/** One copy into the event: from a register, the stack, or memory behind the hidden result pointer. */
export type CopyStep =
  | { readonly from: 'reg'; readonly reg: IntReg; readonly regOffset: number; readonly size: number; readonly dst: number }
  | { readonly from: 'stack'; readonly spOffset: number; readonly size: number; readonly dst: number; readonly errorBit: number }
  | {
      /** Bytes behind a pointer register: System V's hidden result pointer, or gccgo's value receiver passed by address. */
      readonly from: 'indirect';
      readonly baseReg: IntReg;
      readonly offset: number;
      readonly size: number;
      readonly dst: number;
      readonly errorBit: number;
    };

/** Following a pointer found in the event (at `pointerAt`) and copying what it points to. */
export interface DerefStep {
  readonly kind: 'string' | 'slice' | 'pointer';
  /** Event offset of the pointer word. */
  readonly pointerAt: number;
  /** Event offset of the length word (strings, slices). */
  readonly lengthAt?: number;
  /** Bytes per length unit: 1 for strings, the element size for slices. */
  readonly unit: number;
  /** Event offset of the copied data. */
  readonly area: number;
  /** Most bytes copied. */
  readonly max: number;
  readonly errorBit: number;
}

/** How one value is read into an event. */
export interface ValueRead {
  readonly name: string;
  readonly type: GoType;
  readonly role: 'param' | 'result';
  /** Event offset of the value's bytes (its memory layout). */
  readonly slot: number;
  readonly copies: readonly CopyStep[];
  readonly derefs: readonly DerefStep[];
  /** Set when the value cannot be read by this probe; then copies and derefs are empty. */
  readonly unreadable?: string;
  /** Parts of the value that cannot be read (float fields in XMM registers), by byte range. */
  readonly unreadableParts?: readonly { readonly valueOffset: number; readonly size: number; readonly reason: string }[];
}

/** A value written by a rewrite. */
export type RewriteValue = bigint | boolean | string;

/**
 * What the entry probe stores at a rewrite's {@link RewriteStep.resultAt}: 0 when the write was
 * done, -errno when bpf_probe_write_user refused it, or this code when the probe did not try
 * (string data whose length at this call differs from the new value's, or a nil data pointer).
 */
export const REWRITE_NOT_ATTEMPTED = 1n;

/** What every rewrite step carries besides its mechanism. */
interface RewriteStepBase {
  readonly name: string;
  /** The value asked for, as given (a bool stays a bool). */
  readonly requested: RewriteValue;
  /**
   * Event offset of the s64 outcome the probe stores: 0, -errno or {@link REWRITE_NOT_ATTEMPTED}.
   * A write can fail at run time (a literal's bytes sit in a read-only page), and the probe has
   * no other way to tell user space.
   */
  readonly resultAt: number;
}

/** One rewrite, done by the entry probe after reading. */
export type RewriteStep =
  /** Writes `bytes` to SP+spOffset with bpf_probe_write_user (stack ABI). */
  | (RewriteStepBase & { readonly via: 'stack'; readonly spOffset: number; readonly bytes: Buffer })
  /** Sets a saved register (register ABIs; needs a kernel that applies ctx writes; cannot fail once loaded). */
  | (RewriteStepBase & { readonly via: 'reg'; readonly reg: IntReg; readonly value: bigint })
  /** Overwrites string data in place with bpf_probe_write_user, only when the length matches. */
  | (RewriteStepBase & { readonly via: 'string-data'; readonly pointerAt: number; readonly lengthAt: number; readonly bytes: Buffer });

/** One uprobe and what it reads. */
export interface ProbeSpec {
  readonly id: number;
  /** `entry`: first instruction; `spill`: right after the first store of a float register; `return`: a RET. */
  readonly kind: 'entry' | 'spill' | 'return';
  /** The function this probe belongs to. */
  readonly function: string;
  readonly vaddr: number;
  readonly fileOffset: number;
  /** Add to SP at this probe to get SP at function entry (spill probes inside the prologue). */
  readonly entrySpDelta: number;
  readonly reads: readonly ValueRead[];
  readonly rewrites: readonly RewriteStep[];
  /** Bytes of the event. */
  readonly eventSize: number;
}

/** Where a float argument register is first stored to the stack (found by disassembly). */
export interface FloatSpill {
  readonly xmmIndex: number;
  /** Address of the instruction after the store: the spill probe goes here. */
  readonly probeVaddr: number;
  /** SP at entry minus SP at the probe. */
  readonly entrySpDelta: number;
  /** The stored value's address, relative to SP at entry. */
  readonly spOffsetAtEntry: number;
  readonly size: number;
}

/** What {@link planFunction} needs to know about the function. */
export interface PlannedFunction {
  readonly name: string;
  readonly vaddr: number;
  readonly fileOffset: number;
  readonly layout: FunctionLayout;
  /** Addresses of every RET instruction. */
  readonly returnVaddrs: readonly number[];
  /** Float-register stores found by disassembly, by XMM index. */
  readonly floatSpills: readonly FloatSpill[];
}

/** Options of {@link planFunction}. */
export interface PlanOptions {
  readonly limits?: ReadLimits;
  /** Arguments to overwrite at entry, by parameter name. */
  readonly rewrites?: ReadonlyMap<string, RewriteValue>;
  /** The first probe id to use (ids are unique across every function of one program). */
  readonly firstId?: number;
}

/** Every probe of one function. */
export interface FunctionPlan {
  readonly name: string;
  readonly probes: readonly ProbeSpec[];
}

/** Thrown for a rewrite that cannot be done; carries the reason for the CLI to wrap. */
export class RewritePlanError extends Error {}

/** Plans the entry, spill and return probes of one function. */
export function planFunction(fn: PlannedFunction, options: PlanOptions = {}): FunctionPlan {
  const limits = options.limits ?? DEFAULT_LIMITS;
  let nextId = options.firstId ?? 0;
  const probes: ProbeSpec[] = [];
  const fileOffsetOf = (vaddr: number) => fn.fileOffset + (vaddr - fn.vaddr);

  // Entry: everything not in an XMM register.
  const entry = new EventBuilder(limits);
  const entryReads = fn.layout.params.map((v) => entry.read(v, 'param', 0, fn.layout));
  const floatReads: { value: ValueLocation; spill: FloatSpill }[] = [];
  // A float argument stays unreadable at entry; where disassembly found the function's own
  // store of its register, a spill probe right after that store supplies it.
  for (const value of fn.layout.params) {
    if (!value.pieces.some((p) => p.where === 'xmm')) continue;
    const spill = findSpill(value, fn.floatSpills);
    if (spill) floatReads.push({ value, spill });
  }
  const entryFinal = entryReads;
  // The outcome slots come after every read, so the reads' offsets do not depend on rewrites.
  const rewrites = planRewrites(fn.layout, entryFinal, options.rewrites, () => entry.allocOutcome());
  probes.push(spec(nextId++, 'entry', fn.name, fn.vaddr, fn.fileOffset, 0, entryFinal, rewrites, entry.size));

  // Spill probes: one per distinct probe address.
  const byAddress = new Map<number, { value: ValueLocation; spill: FloatSpill }[]>();
  for (const item of floatReads) byAddress.set(item.spill.probeVaddr, [...(byAddress.get(item.spill.probeVaddr) ?? []), item]);
  for (const [vaddr, items] of [...byAddress].sort((a, b) => a[0] - b[0])) {
    const builder = new EventBuilder(limits);
    const delta = items[0]!.spill.entrySpDelta;
    const reads = items.map(({ value, spill }) =>
      builder.read(
        { ...value, pieces: [{ where: 'stack', offset: spill.spOffsetAtEntry, size: spill.size, valueOffset: 0 }] },
        'param',
        delta,
        fn.layout,
      ),
    );
    probes.push(spec(nextId++, 'spill', fn.name, vaddr, fileOffsetOf(vaddr), delta, reads, [], builder.size));
  }

  // Returns: the results, at every RET.
  for (const vaddr of fn.returnVaddrs) {
    const builder = new EventBuilder(limits);
    const reads = fn.layout.results.map((v) => builder.read(v, 'result', 0, fn.layout));
    probes.push(spec(nextId++, 'return', fn.name, vaddr, fileOffsetOf(vaddr), 0, reads, [], builder.size));
  }
  return { name: fn.name, probes };
}

function spec(
  id: number,
  kind: ProbeSpec['kind'],
  fn: string,
  vaddr: number,
  fileOffset: number,
  entrySpDelta: number,
  reads: ValueRead[],
  rewrites: RewriteStep[],
  eventSize: number,
): ProbeSpec {
  return { id, kind, function: fn, vaddr, fileOffset, entrySpDelta, reads, rewrites, eventSize };
}

function findSpill(value: ValueLocation, spills: readonly FloatSpill[]): FloatSpill | undefined {
  // Only a value that is a single XMM register can be recovered from one store.
  const xmm = value.pieces.filter((p) => p.where === 'xmm');
  if (xmm.length !== 1 || value.pieces.length !== 1) return undefined;
  const piece = xmm[0]!;
  if (piece.where !== 'xmm') return undefined;
  return spills.find((s) => s.xmmIndex === piece.index && s.size === piece.size);
}

/** Allocates event space and read bits for one probe. */
class EventBuilder {
  size = EVENT_HEADER_SIZE;
  #bits = 0;
  readonly #limits: ReadLimits;

  constructor(limits: ReadLimits) {
    this.#limits = limits;
  }

  /** An 8-byte slot for a rewrite's outcome. */
  allocOutcome(): number {
    return this.#alloc(8);
  }

  #alloc(bytes: number): number {
    const at = align(this.size, 8);
    this.size = at + align(bytes, 8);
    if (this.size > EVENT_MAX_SIZE) throw new RangeError(`event larger than ${EVENT_MAX_SIZE} bytes`);
    return at;
  }

  #bit(): number {
    // Past 64 reads faults are no longer distinguished; the last bit stands for all of them.
    return Math.min(this.#bits++, MAX_READ_BITS - 1);
  }

  /** Plans the read of one value; `entrySpDelta` converts entry-relative stack offsets. */
  read(value: ValueLocation, role: 'param' | 'result', entrySpDelta: number, layout: FunctionLayout): ValueRead {
    const why = (index: number) =>
      role === 'param' ? `in X${index}, not readable from saved registers` : `result in X${index}, not readable from saved registers`;
    const xmmPieces = value.pieces.filter((p): p is Extract<Piece, { where: 'xmm' }> => p.where === 'xmm');
    if (xmmPieces.length > 0 && xmmPieces.length === value.pieces.length && value.type.kind !== 'struct' && value.type.kind !== 'array') {
      return { name: value.name, type: value.type, role, slot: this.#alloc(0), copies: [], derefs: [], unreadable: why(xmmPieces[0]!.index) };
    }
    const slot = this.#alloc(value.type.size);
    const copies: CopyStep[] = [];
    for (const piece of value.pieces) if (piece.where !== 'xmm') copies.push(this.#copy(piece, slot, entrySpDelta, layout));
    const derefs: DerefStep[] = [];
    this.#derefsIn(value.type, slot, this.#limits.depth, derefs);
    const read: ValueRead = { name: value.name, type: value.type, role, slot, copies, derefs };
    if (xmmPieces.length === 0) return read;
    // Integer fields of a struct are readable even when its float fields sit in XMM registers.
    return { ...read, unreadableParts: xmmPieces.map((p) => ({ valueOffset: p.valueOffset, size: p.size, reason: why(p.index) })) };
  }

  #copy(piece: Piece, slot: number, entrySpDelta: number, layout: FunctionLayout): CopyStep {
    const dst = slot + piece.valueOffset;
    switch (piece.where) {
      case 'reg':
        return { from: 'reg', reg: piece.reg, regOffset: piece.regOffset ?? 0, size: piece.size, dst };
      case 'stack':
        return { from: 'stack', spOffset: piece.offset + entrySpDelta, size: piece.size, dst, errorBit: this.#bit() };
      case 'indirect': {
        const base = layout.hiddenResultPointerAtReturn;
        if (!base || base.where !== 'reg') throw new RangeError('indirect result without a hidden result pointer register');
        return { from: 'indirect', baseReg: base.reg, offset: piece.offset, size: piece.size, dst, errorBit: this.#bit() };
      }
      case 'deref':
        return { from: 'indirect', baseReg: piece.reg, offset: piece.offset, size: piece.size, dst, errorBit: this.#bit() };
      case 'xmm':
        throw new RangeError('xmm pieces are handled by the caller');
    }
  }

  /** Adds deref steps for strings, slices and pointers inside a value laid out at `at`. */
  #derefsIn(type: GoType, at: number, depth: number, out: DerefStep[]): void {
    if (depth <= 0) return;
    switch (type.kind) {
      case 'string': {
        const area = this.#alloc(this.#limits.stringBytes);
        out.push({ kind: 'string', pointerAt: at, lengthAt: at + 8, unit: 1, area, max: this.#limits.stringBytes, errorBit: this.#bit() });
        return;
      }
      case 'slice': {
        const elemSize = Math.max(type.elem.size, 1);
        const max = Math.min(this.#limits.sliceElements * elemSize, this.#limits.pointeeBytes * 4);
        const area = this.#alloc(max);
        out.push({ kind: 'slice', pointerAt: at, lengthAt: at + 8, unit: elemSize, area, max, errorBit: this.#bit() });
        const count = Math.floor(max / elemSize);
        for (let i = 0; i < count && type.elem.size > 0; i++) this.#derefsIn(type.elem, area + i * elemSize, depth - 1, out);
        return;
      }
      case 'pointer': {
        if (!type.elem || type.elem.size === 0 || type.shape !== 'pointer') return;
        const max = Math.min(type.elem.size, this.#limits.pointeeBytes);
        const area = this.#alloc(max);
        out.push({ kind: 'pointer', pointerAt: at, unit: 1, area, max, errorBit: this.#bit() });
        if (max === type.elem.size) this.#derefsIn(type.elem, area, depth - 1, out);
        return;
      }
      case 'struct':
        for (const field of type.fields) this.#derefsIn(field.type, at + field.offset, depth, out);
        return;
      case 'array':
        for (let i = 0; i < type.length; i++) this.#derefsIn(type.elem, at + i * type.elem.size, depth, out);
        return;
      default:
        return;
    }
  }
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Plans the rewrites of entry arguments; throws {@link RewritePlanError} for impossible ones. */
function planRewrites(
  layout: FunctionLayout,
  reads: readonly ValueRead[],
  wanted: ReadonlyMap<string, RewriteValue> | undefined,
  allocOutcome: () => number,
): RewriteStep[] {
  if (!wanted || wanted.size === 0) return [];
  const steps: RewriteStep[] = [];
  for (const [name, newValue] of wanted) {
    const index = layout.params.findIndex((p) => p.name === name);
    if (index < 0) {
      const known = layout.params.map((p) => p.name).join(', ') || '(none)';
      throw new RewritePlanError(`no parameter named '${name}'; the parameters are: ${known}`);
    }
    const value = layout.params[index]!;
    const read = reads[index]!;
    const type = value.type;
    if (type.kind === 'string') {
      if (typeof newValue !== 'string') throw new RewritePlanError(`'${name}' is a string: give a string value`);
      const deref = read.derefs.find((d) => d.kind === 'string' && d.pointerAt === read.slot);
      if (!deref) throw new RewritePlanError(`'${name}' cannot be read, so it cannot be rewritten`);
      const bytes = Buffer.from(newValue, 'utf8');
      steps.push({ via: 'string-data', name, requested: newValue, resultAt: allocOutcome(), pointerAt: deref.pointerAt, lengthAt: deref.lengthAt!, bytes });
      continue;
    }
    if (type.kind !== 'int' && type.kind !== 'bool') {
      throw new RewritePlanError(`'${name}' is ${type.name}: only integers, bools and same-length strings can be rewritten`);
    }
    const asInt = typeof newValue === 'boolean' ? (newValue ? 1n : 0n) : typeof newValue === 'bigint' ? newValue : undefined;
    if (asInt === undefined) throw new RewritePlanError(`'${name}' is ${type.name}: give ${type.kind === 'bool' ? 'true or false' : 'an integer'}`);
    checkRange(name, type, asInt);
    const piece = value.pieces[0];
    if (!piece || value.pieces.length !== 1) throw new RewritePlanError(`'${name}' is split across locations and cannot be rewritten`);
    if (piece.where === 'stack') {
      steps.push({ via: 'stack', name, requested: newValue, resultAt: allocOutcome(), spOffset: piece.offset, bytes: intBytes(asInt, type.size) });
    } else if (piece.where === 'reg') {
      if ((piece.regOffset ?? 0) !== 0) throw new RewritePlanError(`'${name}' shares a register with another value and cannot be rewritten`);
      steps.push({ via: 'reg', name, requested: newValue, resultAt: allocOutcome(), reg: piece.reg, value: asInt });
    } else {
      throw new RewritePlanError(`'${name}' is not in a register or stack slot a probe can write`);
    }
  }
  return steps;
}

function checkRange(name: string, type: GoType, value: bigint): void {
  if (type.kind === 'bool') return;
  if (type.kind !== 'int') return;
  const bits = BigInt(type.size * 8);
  const min = type.signed ? -(1n << (bits - 1n)) : 0n;
  const max = type.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (value < min || value > max) throw new RewritePlanError(`${value} does not fit '${name}' (${type.name}: ${min}..${max})`);
}

function intBytes(value: bigint, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  let v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return bytes;
}
