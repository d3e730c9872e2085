import { describe, expect, it } from 'vitest';
import { goTypes, pointerTo, signature, sliceOf, structOf } from '../abi/construct.ts';
import { layoutFunction } from '../abi/layout.ts';
import type { AbiName } from '../abi/layout.ts';
import type { GoSignature } from '../abi/types.ts';
import { generateProgram } from './codegen.ts';
import { decodeEvent } from './decode.ts';
import { EVENT_HEADER_SIZE, planFunction, RewritePlanError, type FloatSpill, type ProbeSpec } from './plan.ts';
import { formatValue } from './values.ts';

/** The tutorial's function. */
const ebpfDemo = signature(
  [
    ['a1', goTypes.int],
    ['a2', goTypes.bool],
    ['a3', goTypes.float32],
  ],
  [
    ['r1', goTypes.int64],
    ['r2', goTypes.int32],
    ['r3', goTypes.string],
  ],
);

function plan(sig: GoSignature, abi: AbiName, extra: { spills?: FloatSpill[]; rewrites?: Map<string, bigint | boolean | string> } = {}) {
  return planFunction(
    {
      name: 'main.f',
      vaddr: 0x401000,
      fileOffset: 0x1000,
      layout: layoutFunction(sig, abi),
      returnVaddrs: [0x401080, 0x4010a0],
      floatSpills: extra.spills ?? [],
    },
    extra.rewrites ? { rewrites: extra.rewrites } : {},
  );
}

/** Fills an event for `spec` as the kernel would, from the pieces' sources. */
function fakeEvent(spec: ProbeSpec, fill: (at: number, event: Buffer) => void): Buffer {
  const event = Buffer.alloc(spec.eventSize);
  event.writeUInt32LE(spec.id, 0);
  event.writeBigUInt64LE(BigInt(spec.vaddr), 32);
  fill(EVENT_HEADER_SIZE, event);
  return event;
}

describe('planFunction', () => {
  it('reads the tutorial slots sp+8, sp+16, sp+20 under ABI0, and results at every RET', () => {
    const { probes } = plan(ebpfDemo, 'abi0');
    expect(probes.map((p) => [p.kind, p.fileOffset])).toEqual([
      ['entry', 0x1000],
      ['return', 0x1080],
      ['return', 0x10a0],
    ]);
    const entry = probes[0]!;
    expect(entry.reads.map((r) => r.copies.map((c) => (c.from === 'stack' ? c.spOffset : c.from)))).toEqual([[8], [16], [20]]);
    const ret = probes[1]!;
    expect(ret.reads.map((r) => r.copies.map((c) => (c.from === 'stack' ? c.spOffset : c.from)))).toEqual([[24], [32], [40]]);
  });

  it('reads RAX and RBX under ABIInternal and reports X0 as unreadable without a spill', () => {
    const entry = plan(ebpfDemo, 'abiinternal').probes[0]!;
    expect(entry.reads[0]!.copies).toEqual([{ from: 'reg', reg: 'ax', regOffset: 0, size: 8, dst: entry.reads[0]!.slot }]);
    expect(entry.reads[1]!.copies).toEqual([{ from: 'reg', reg: 'bx', regOffset: 0, size: 1, dst: entry.reads[1]!.slot }]);
    expect(entry.reads[2]!.unreadable).toBe('in X0, not readable from saved registers');
  });

  it('adds a spill probe after the function stores X0, reading the entry frame', () => {
    const spill: FloatSpill = { xmmIndex: 0, probeVaddr: 0x401028, entrySpDelta: 0x70, spOffsetAtEntry: 0x14, size: 4 };
    const probes = plan(ebpfDemo, 'abiinternal', { spills: [spill] }).probes;
    const spillProbe = probes.find((p) => p.kind === 'spill')!;
    expect(spillProbe.fileOffset).toBe(0x1028);
    expect(spillProbe.reads).toHaveLength(1);
    expect(spillProbe.reads[0]!.copies).toEqual([
      expect.objectContaining({ from: 'stack', spOffset: 0x14 + 0x70, size: 4 }),
    ]);
  });

  it('plans rewrites: stack bytes under ABI0, a register under ABIInternal', () => {
    const abi0 = plan(ebpfDemo, 'abi0', { rewrites: new Map([['a1', 2021n]]) }).probes[0]!;
    expect(abi0.rewrites).toEqual([{ via: 'stack', name: 'a1', spOffset: 8, bytes: Buffer.from([0xe5, 0x07, 0, 0, 0, 0, 0, 0]) }]);
    const regs = plan(ebpfDemo, 'abiinternal', { rewrites: new Map<string, bigint | boolean>([['a1', 2021n], ['a2', false]]) }).probes[0]!;
    expect(regs.rewrites).toEqual([
      { via: 'reg', name: 'a1', reg: 'ax', value: 2021n },
      { via: 'reg', name: 'a2', reg: 'bx', value: 0n },
    ]);
  });

  it('refuses rewrites it cannot do, saying why', () => {
    expect(() => plan(ebpfDemo, 'abi0', { rewrites: new Map([['a3', 1n]]) })).toThrow(RewritePlanError);
    expect(() => plan(ebpfDemo, 'abi0', { rewrites: new Map([['nope', 1n]]) })).toThrow(/the parameters are: a1, a2, a3/);
    const small = signature([['b', goTypes.int8]]);
    expect(() => plan(small, 'abi0', { rewrites: new Map([['b', 300n]]) })).toThrow(/does not fit 'b' \(int8: -128\.\.127\)/);
  });
});

describe('generateProgram', () => {
  it('emits one function per probe, reading through the inline helpers', () => {
    const program = generateProgram([plan(ebpfDemo, 'abi0', { rewrites: new Map([['a1', 2021n]]) })], { transport: 'perf' });
    expect(program.probes.map((p) => p.cFunction)).toEqual(['golab_probe_0', 'golab_probe_1', 'golab_probe_2']);
    expect(program.text).toContain('errors |= golab_read(d, 56, 8, ctx->sp + 8, 0);');
    expect(program.text).toContain('errors |= golab_read(d, 64, 1, ctx->sp + 16, 1);');
    expect(program.text).toContain('errors |= golab_read(d, 72, 4, ctx->sp + 20, 2);');
    expect(program.text).toContain('bpf_probe_write_user((void *)(ctx->sp + 8), v, sizeof(v));');
    expect(program.text).toContain('golab_events.perf_submit(ctx, d, ');
    expect(program.text).not.toMatch(/0x401/);
  });

  it('writes ctx registers for register-ABI rewrites and uses the ring buffer when asked', () => {
    const program = generateProgram([plan(ebpfDemo, 'abiinternal', { rewrites: new Map([['a1', -1n]]) })], { transport: 'ring' });
    expect(program.text).toContain('ctx->ax = 0xffffffffffffffffULL; // rewrite a1');
    expect(program.text).toContain('BPF_RINGBUF_OUTPUT(golab_events, 64);');
  });
});

describe('decodeEvent', () => {
  it('decodes the tutorial event back into a1=100, a2=true, a3=66.88', () => {
    const entry = plan(ebpfDemo, 'abi0').probes[0]!;
    const [a1, a2, a3] = entry.reads;
    const event = fakeEvent(entry, (_, e) => {
      e.writeBigInt64LE(100n, a1!.slot);
      e.writeUInt8(1, a2!.slot);
      e.writeFloatLE(66.88, a3!.slot);
    });
    const decoded = decodeEvent(event, entry);
    expect(decoded.values.map((v) => `${v.name}=${formatValue(v.value)}`)).toEqual(['a1=100', 'a2=true', 'a3=66.88']);
  });

  it('decodes strings, slices and pointed-to structs from their dereferenced areas', () => {
    const point = structOf('main.Point', [
      ['X', goTypes.int64],
      ['Y', goTypes.int64],
    ]);
    const sig = signature([
      ['s', goTypes.string],
      ['xs', sliceOf(goTypes.int64)],
      ['p', pointerTo(point)],
    ]);
    const entry = plan(sig, 'abi0').probes[0]!;
    const [s, xs, p] = entry.reads;
    const event = fakeEvent(entry, (_, e) => {
      e.writeBigUInt64LE(0xc000100000n, s!.slot);
      e.writeBigInt64LE(2n, s!.slot + 8);
      e.write('hi', s!.derefs[0]!.area);
      e.writeBigUInt64LE(0xc000200000n, xs!.slot);
      e.writeBigInt64LE(3n, xs!.slot + 8);
      e.writeBigInt64LE(5n, xs!.slot + 16);
      [10n, -20n, 30n].forEach((v, i) => e.writeBigInt64LE(v, xs!.derefs[0]!.area + 8 * i));
      e.writeBigUInt64LE(0xc000300000n, p!.slot);
      e.writeBigInt64LE(3n, p!.derefs[0]!.area);
      e.writeBigInt64LE(-4n, p!.derefs[0]!.area + 8);
    });
    const decoded = decodeEvent(event, entry);
    expect(decoded.values.map((v) => formatValue(v.value))).toEqual(['"hi"', '[10,-20,30](len=3,cap=5)', '0xc000300000->{X:3,Y:-4}']);
  });

  it('flags truncated strings and faulted reads instead of inventing values', () => {
    const entry = plan(signature([['s', goTypes.string]]), 'abi0').probes[0]!;
    const [s] = entry.reads;
    const long = fakeEvent(entry, (_, e) => {
      e.writeBigUInt64LE(0xc000100000n, s!.slot);
      e.writeBigInt64LE(1000n, s!.slot + 8);
      e.write('x'.repeat(64), s!.derefs[0]!.area);
    });
    expect(decodeEvent(long, entry).values[0]!.value).toEqual({ kind: 'string', value: 'x'.repeat(64), length: 1000, truncated: true });
    const faulted = Buffer.from(long);
    faulted.writeBigUInt64LE(1n << BigInt(s!.derefs[0]!.errorBit), 48);
    expect(decodeEvent(faulted, entry).values[0]!.value.kind).toBe('unreadable');
  });
});
