/**
 * Events back into Go values, with the same plan that generated the probe (plan.ts).
 * Decoding allocates only the values it returns.
 */
import type { GoType } from '../abi/types.ts';
import type { DerefStep, ProbeSpec, ValueRead } from './plan.ts';
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

/** A decoded event. */
export interface DecodedEvent {
  readonly header: EventHeader;
  readonly spec: ProbeSpec;
  readonly values: readonly NamedValue[];
}

/** Names a type word (a *runtime._type or *runtime.itab) by address, if the binary can. */
export type TypeNamer = (address: bigint) => string | undefined;

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

/** Decodes an event produced by the probe `spec`. */
export function decodeEvent(data: Buffer, spec: ProbeSpec, nameType?: TypeNamer): DecodedEvent {
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
  return { header, spec, values };
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
