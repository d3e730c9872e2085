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
    ktimeNs: data.readBigUInt64LE(16),
    sp: data.readBigUInt64LE(24),
    ip: data.readBigUInt64LE(32),
    r14: data.readBigUInt64LE(40),
    failedReads: data.readBigUInt64LE(48),
  };
}

/** Decodes an event produced by the probe `spec`. */
export function decodeEvent(data: Buffer, spec: ProbeSpec, nameType?: TypeNamer): DecodedEvent {
  const header = decodeHeader(data);
  const bias = header.ip - BigInt(spec.vaddr);
  const namer: TypeNamer | undefined = nameType ? (address) => nameType(address - bias) : undefined;
  const values = spec.reads.map((read) => ({
    name: read.name,
    type: read.type.name,
    value: decodeRead(data, read, header.failedReads, namer),
  }));
  return { header, spec, values };
}

function decodeRead(data: Buffer, read: ValueRead, failed: bigint, nameType: TypeNamer | undefined): GoValue {
  if (read.unreadable) return { kind: 'unreadable', reason: read.unreadable };
  const faulted = read.copies.find((c) => c.from !== 'reg' && (failed & (1n << BigInt(c.errorBit))) !== 0n);
  if (faulted) return { kind: 'unreadable', reason: 'the stack slot could not be read (fault)' };
  const derefs = new Map<number, DerefStep>(read.derefs.map((d) => [d.pointerAt, d]));
  const holes = (read.unreadableParts ?? []).map((p) => ({ from: read.slot + p.valueOffset, to: read.slot + p.valueOffset + p.size, reason: p.reason }));
  return decodeAt(data, read.type, read.slot, { derefs, failed, nameType, holes });
}

interface DecodeContext {
  readonly derefs: ReadonlyMap<number, DerefStep>;
  readonly failed: bigint;
  readonly nameType: TypeNamer | undefined;
  /** Event byte ranges the probe could not fill (float fields in XMM registers). */
  readonly holes: readonly { readonly from: number; readonly to: number; readonly reason: string }[];
}

function decodeAt(data: Buffer, type: GoType, at: number, ctx: DecodeContext): GoValue {
  if (type.kind !== 'struct' && type.kind !== 'array' && type.size > 0) {
    const hole = ctx.holes.find((h) => h.from < at + type.size && at < h.to);
    if (hole) return { kind: 'unreadable', reason: hole.reason };
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
      const half = type.size / 2;
      const read = (o: number) => (half === 4 ? data.readFloatLE(o) : data.readDoubleLE(o));
      return { kind: 'complex', real: read(at), imag: read(at + half), bits: half === 4 ? 64 : 128 };
    }
    case 'string': {
      const length = Number(data.readBigInt64LE(at + 8));
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
    case 'struct':
      return {
        kind: 'struct',
        fields: type.fields.map((f) => ({ name: f.name, value: decodeAt(data, f.type, at + f.offset, ctx) })),
      };
    case 'array':
      return {
        kind: 'array',
        elements: Array.from({ length: type.length }, (_, i) => decodeAt(data, type.elem, at + i * type.elem.size, ctx)),
      };
    case 'interface': {
      const typeWord = data.readBigUInt64LE(at);
      const dataWord = data.readBigUInt64LE(at + 8);
      const typeName = typeWord === 0n ? undefined : ctx.nameType?.(typeWord);
      return typeName === undefined ? { kind: 'interface', typeWord, dataWord } : { kind: 'interface', typeWord, dataWord, typeName };
    }
  }
}

function faulted(deref: DerefStep, ctx: DecodeContext): boolean {
  return (ctx.failed & (1n << BigInt(deref.errorBit))) !== 0n;
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
      return signed ? data.readBigInt64LE(at) : data.readBigUInt64LE(at);
  }
}
