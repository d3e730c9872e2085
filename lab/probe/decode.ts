/**
 * Events back into Go values, with the same plan that generated the probe (plan.ts).
 * Decoding allocates only the values it returns.
 */
import { constants } from 'node:os';
import type { GoType } from '../abi/types.ts';
import { REWRITE_NOT_ATTEMPTED, type DerefStep, type ProbeSpec, type RewriteStep, type RewriteValue, type ValueRead } from './plan.ts';
import type { GoValue, NamedValue } from './values.ts';

/** The fixed header of every event. */
export interface EventHeader {
  readonly probeId: number;
  readonly tid: number;
  readonly pid: number;
  readonly ktimeNs: bigint;
  readonly sp: bigint;
  readonly ip: bigint;
  /** R14: the goroutine pointer under ABIInternal. */
  readonly r14: bigint;
  readonly failedReads: bigint;
}

/** What became of one rewrite at one firing of the entry probe. */
export interface RewriteOutcome {
  readonly param: string;
  /** The value asked for. */
  readonly value: RewriteValue;
  /** How it was written (plan.ts {@link RewriteStep}). */
  readonly via: RewriteStep['via'];
  /** True when the write was done: the call sees the new value. */
  readonly ok: boolean;
  /** When bpf_probe_write_user refused the write: its error number (positive, e.g. 14 for EFAULT). */
  readonly errno?: number;
  /** Why the write was not done, in words. */
  readonly reason?: string;
  /** True when a refused string-data write pointed into a read-only segment of the binary (a literal). */
  readonly readOnly?: boolean;
}

/** A decoded event. */
export interface DecodedEvent {
  readonly header: EventHeader;
  readonly spec: ProbeSpec;
  readonly values: readonly NamedValue[];
  /** One outcome per rewrite of an entry probe, in plan order; empty for other probes. */
  readonly rewrites: readonly RewriteOutcome[];
}

/** Names a type word (a *runtime._type or *runtime.itab) by address, if the binary can. */
export type TypeNamer = (address: bigint) => string | undefined;

/**
 * True when an address of the binary (load bias removed) lies in memory the process cannot
 * write, such as a read-only PT_LOAD segment (session.ts builds one from the ELF segments).
 */
export type ReadOnlyTest = (address: bigint) => boolean;

/** Reads the header of an event. */
export function decodeHeader(data: Buffer): EventHeader {
  return {
    probeId: data.readUInt32LE(0),
    tid: data.readUInt32LE(4),
    pid: data.readUInt32LE(8),
    ktimeNs: u64(data, 16),
    sp: u64(data, 24),
    ip: u64(data, 32),
    r14: u64(data, 40),
    failedReads: u64(data, 48),
  };
}

// Buffer.readBigUInt64LE builds its result from several intermediate BigInts (~0.2-1 µs here);
// DataView makes one. Events arrive in one reused buffer (lab/bcc EventCopier), so the view of
// the last buffer seen is kept (asking a Buffer for its .buffer is itself slow).
let lastData: Buffer | undefined;
let lastView: DataView | undefined;

function viewOf(data: Buffer): DataView {
  if (data !== lastData || lastView === undefined) {
    lastData = data;
    lastView = new DataView(data.buffer, data.byteOffset, data.length);
  }
  return lastView;
}

/** The u64 at `at`; out of range, Buffer's own reader throws its usual error. */
function u64(data: Buffer, at: number): bigint {
  if (at < 0 || at + 8 > data.length) return data.readBigUInt64LE(at);
  return viewOf(data).getBigUint64(at, true);
}

/** The i64 at `at`; out of range, Buffer's own reader throws its usual error. */
function i64(data: Buffer, at: number): bigint {
  if (at < 0 || at + 8 > data.length) return data.readBigInt64LE(at);
  return viewOf(data).getBigInt64(at, true);
}

/**
 * Decodes an event produced by the probe `spec`. `readOnly` lets a failed string-data rewrite
 * say that its bytes are in a read-only segment rather than only name the error number.
 */
export function decodeEvent(data: Buffer, spec: ProbeSpec, nameType?: TypeNamer, readOnly?: ReadOnlyTest): DecodedEvent {
  const header = decodeHeader(data);
  // No closures on this path: tsx (esbuild keepNames) wraps each one it creates in a __name()
  // call that redefines the function's name, which cost more per event than the decoding.
  const typing: Typing | undefined = nameType ? { nameType, ip: header.ip, vaddr: spec.vaddr } : undefined;
  const reads = spec.reads;
  const values: NamedValue[] = new Array<NamedValue>(reads.length);
  for (let i = 0; i < reads.length; i++) {
    const read = reads[i]!;
    values[i] = { name: read.name, type: read.type.name, value: decodeRead(data, read, header.failedReads, typing) };
  }
  return { header, spec, values, rewrites: spec.rewrites.length === 0 ? NO_REWRITES : decodeRewrites(data, spec, header.ip, readOnly) };
}

/** The outcome of each rewrite of an entry probe's event. */
function decodeRewrites(data: Buffer, spec: ProbeSpec, ip: bigint, readOnly: ReadOnlyTest | undefined): RewriteOutcome[] {
  const bias = ip - BigInt(spec.vaddr);
  const outcomes: RewriteOutcome[] = [];
  for (const step of spec.rewrites) outcomes.push(decodeRewrite(data, step, bias, readOnly));
  return outcomes;
}

const NO_REWRITES: readonly RewriteOutcome[] = Object.freeze([]);

/** Error names by number, from Node's table of this platform's errno values. */
let errnoNames: Map<number, string> | undefined;

/** `-14 (EFAULT)` for 14. */
export function describeErrno(errno: number): string {
  if (errnoNames === undefined) {
    // Aliases share a number (EAGAIN, EWOULDBLOCK): the first listed is the usual name.
    errnoNames = new Map();
    for (const [name, value] of Object.entries(constants.errno)) if (!errnoNames.has(value)) errnoNames.set(value, name);
  }
  const name = errnoNames.get(errno);
  return name === undefined ? `-${errno}` : `-${errno} (${name})`;
}

/** The outcome the entry probe stored for `step`; `bias` is the load bias (entry IP minus entry vaddr). */
function decodeRewrite(data: Buffer, step: RewriteStep, bias: bigint, readOnly: ReadOnlyTest | undefined): RewriteOutcome {
  const base = { param: step.name, value: step.requested, via: step.via };
  const code = i64(data, step.resultAt);
  if (code === 0n) return { ...base, ok: true };
  if (step.via === 'string-data' && code === REWRITE_NOT_ATTEMPTED) {
    const pointer = u64(data, step.pointerAt);
    const length = i64(data, step.lengthAt);
    const reason =
      pointer === 0n
        ? 'not written: the string\'s data pointer is nil'
        : `not written: the string has ${length} bytes at this call, the new value ${step.bytes.length} (a rewrite keeps the length)`;
    return { ...base, ok: false, reason };
  }
  if (code > 0n) return { ...base, ok: false, reason: `the probe stored an unknown outcome ${code}` };
  const errno = Number(-code);
  if (step.via === 'string-data') {
    const pointer = u64(data, step.pointerAt);
    if (readOnly?.(pointer - bias)) {
      return { ...base, ok: false, errno, readOnly: true, reason: `its data (0x${pointer.toString(16)}) is in the binary's read-only segment, which bpf_probe_write_user cannot write` };
    }
  }
  return { ...base, ok: false, errno, reason: `bpf_probe_write_user returned ${describeErrno(errno)}` };
}

/** Names interface type words: the binary's namer and what its load bias is computed from. */
interface Typing {
  readonly nameType: TypeNamer;
  /** The event's instruction pointer and the probe's link-time address: their difference is the load bias. */
  readonly ip: bigint;
  readonly vaddr: number;
}

function nameTypeWord(typing: Typing | undefined, address: bigint): string | undefined {
  return typing?.nameType(address - (typing.ip - BigInt(typing.vaddr)));
}

/** What decoding a read needs beyond the event, derived once per plan rather than per event. */
interface PreparedRead {
  /** The fault bits of the copies from memory: any set means the value could not be read. */
  readonly faultMask: bigint;
  readonly derefs: ReadonlyMap<number, DerefStep>;
  readonly holes: DecodeContext['holes'];
}

// Hot functions decode the same few reads hundreds of thousands of times: prepare each once.
const preparedReads = new WeakMap<ValueRead, PreparedRead>();

function prepare(read: ValueRead): PreparedRead {
  let prepared = preparedReads.get(read);
  if (prepared === undefined) {
    let faultMask = 0n;
    for (const copy of read.copies) if (copy.from !== 'reg') faultMask |= 1n << BigInt(copy.errorBit);
    prepared = {
      faultMask,
      derefs: new Map<number, DerefStep>(read.derefs.map((d) => [d.pointerAt, d])),
      holes: (read.unreadableParts ?? []).map((p) => ({ from: read.slot + p.valueOffset, to: read.slot + p.valueOffset + p.size, reason: p.reason })),
    };
    preparedReads.set(read, prepared);
  }
  return prepared;
}

function decodeRead(data: Buffer, read: ValueRead, failed: bigint, typing: Typing | undefined): GoValue {
  if (read.unreadable) return { kind: 'unreadable', reason: read.unreadable };
  const { faultMask, derefs, holes } = prepare(read);
  if (failed !== 0n && (failed & faultMask) !== 0n) return { kind: 'unreadable', reason: 'the stack slot could not be read (fault)' };
  return decodeAt(data, read.type, read.slot, { derefs, failed, typing, holes });
}

interface DecodeContext {
  readonly derefs: ReadonlyMap<number, DerefStep>;
  readonly failed: bigint;
  readonly typing: Typing | undefined;
  /** Event byte ranges the probe could not fill (float fields in XMM registers). */
  readonly holes: readonly { readonly from: number; readonly to: number; readonly reason: string }[];
}

function decodeAt(data: Buffer, type: GoType, at: number, ctx: DecodeContext): GoValue {
  if (ctx.holes.length > 0 && type.kind !== 'struct' && type.kind !== 'array' && type.size > 0) {
    for (const hole of ctx.holes) if (hole.from < at + type.size && at < hole.to) return { kind: 'unreadable', reason: hole.reason };
  }
  switch (type.kind) {
    case 'int':
      return { kind: 'int', value: readInt(data, at, type.size, type.signed) };
    case 'bool':
      return { kind: 'bool', value: data[at] !== 0 };
    case 'float':
      return type.size === 4
        ? { kind: 'float', value: data.readFloatLE(at), bits: 32 }
        : { kind: 'float', value: data.readDoubleLE(at), bits: 64 };
    case 'complex': {
      return type.size === 8
        ? { kind: 'complex', real: data.readFloatLE(at), imag: data.readFloatLE(at + 4), bits: 64 }
        : { kind: 'complex', real: data.readDoubleLE(at), imag: data.readDoubleLE(at + 8), bits: 128 };
    }
    case 'string': {
      const length = Number(i64(data, at + 8));
      const deref = ctx.derefs.get(at);
      if (length === 0) return { kind: 'string', value: '', length: 0, truncated: false };
      if (!deref) return { kind: 'unreadable', reason: 'string data beyond the dereference depth' };
      if (faulted(deref, ctx)) return { kind: 'unreadable', reason: `string data at 0x${data.readBigUInt64LE(at).toString(16)} could not be read (fault)` };
      if (length < 0) return { kind: 'unreadable', reason: `string length ${length} is negative` };
      const copied = Math.min(length, deref.max);
      return {
        kind: 'string',
        value: data.toString('utf8', deref.area, deref.area + copied),
        length,
        truncated: length > deref.max,
      };
    }
    case 'slice': {
      const address = data.readBigUInt64LE(at);
      const length = Number(data.readBigInt64LE(at + 8));
      const capacity = Number(data.readBigInt64LE(at + 16));
      const deref = ctx.derefs.get(at);
      const elements: GoValue[] = [];
      let truncated = false;
      if (length > 0 && deref && type.elem.size > 0) {
        if (faulted(deref, ctx)) {
          elements.push({ kind: 'unreadable', reason: 'slice data could not be read (fault)' });
        } else {
          const fits = Math.floor(deref.max / type.elem.size);
          const count = Math.min(length, fits);
          for (let i = 0; i < count; i++) elements.push(decodeAt(data, type.elem, deref.area + i * type.elem.size, ctx));
          truncated = length > fits;
        }
      } else if (length > 0 && type.elem.size > 0) {
        truncated = true;
      }
      return { kind: 'slice', address, length, capacity, elements, truncated };
    }
    case 'pointer': {
      const address = data.readBigUInt64LE(at);
      const deref = ctx.derefs.get(at);
      if (address === 0n || !deref || !type.elem) return { kind: 'pointer', address };
      if (faulted(deref, ctx)) return { kind: 'pointer', address, target: { kind: 'unreadable', reason: 'pointee could not be read (fault)' } };
      if (deref.max < type.elem.size) return { kind: 'pointer', address, target: { kind: 'unreadable', reason: `pointee larger than ${deref.max} bytes` } };
      return { kind: 'pointer', address, target: decodeAt(data, type.elem, deref.area, ctx) };
    }
    case 'struct': {
      const fields: { name: string; value: GoValue }[] = [];
      for (const f of type.fields) fields.push({ name: f.name, value: decodeAt(data, f.type, at + f.offset, ctx) });
      return { kind: 'struct', fields };
    }
    case 'array': {
      const elements: GoValue[] = [];
      for (let i = 0; i < type.length; i++) elements.push(decodeAt(data, type.elem, at + i * type.elem.size, ctx));
      return { kind: 'array', elements };
    }
    case 'interface': {
      const typeWord = data.readBigUInt64LE(at);
      const dataWord = data.readBigUInt64LE(at + 8);
      const typeName = typeWord === 0n ? undefined : nameTypeWord(ctx.typing, typeWord);
      return typeName === undefined ? { kind: 'interface', typeWord, dataWord } : { kind: 'interface', typeWord, dataWord, typeName };
    }
  }
}

function faulted(deref: DerefStep, ctx: DecodeContext): boolean {
  return ctx.failed !== 0n && (ctx.failed & (1n << BigInt(deref.errorBit))) !== 0n;
}

function readInt(data: Buffer, at: number, size: number, signed: boolean): bigint {
  switch (size) {
    case 1:
      return BigInt(signed ? data.readInt8(at) : data.readUInt8(at));
    case 2:
      return BigInt(signed ? data.readInt16LE(at) : data.readUInt16LE(at));
    case 4:
      return BigInt(signed ? data.readInt32LE(at) : data.readUInt32LE(at));
    default:
      return signed ? i64(data, at) : u64(data, at);
  }
}
