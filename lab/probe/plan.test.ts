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
    // The outcome slot follows the reads (a1 at 56, a2 at 64, a3 at 72): 80, and the event grows by it.
    expect(abi0.rewrites).toEqual([
      { via: 'stack', name: 'a1', requested: 2021n, resultAt: 80, spOffset: 8, bytes: Buffer.from([0xe5, 0x07, 0, 0, 0, 0, 0, 0]) },
    ]);
    expect(abi0.eventSize).toBe(88);
    const regs = plan(ebpfDemo, 'abiinternal', { rewrites: new Map<string, bigint | boolean>([['a1', 2021n], ['a2', false]]) }).probes[0]!;
    expect(regs.rewrites).toEqual([
      { via: 'reg', name: 'a1', requested: 2021n, resultAt: 72, reg: 'ax', value: 2021n },
      { via: 'reg', name: 'a2', requested: false, resultAt: 80, reg: 'bx', value: 0n },
    ]);
    expect(regs.eventSize).toBe(88);
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
    expect(program.text).toContain(
      ['  { u8 v[8] = {229, 7, 0, 0, 0, 0, 0, 0}; // rewrite a1', '    *(s64 *)(d + 80) = bpf_probe_write_user((void *)(ctx->sp + 8), v, sizeof(v)); }'].join('\n'),
    );
    expect(program.text).toContain('golab_events.perf_submit(ctx, d, ');
    expect(program.text).not.toMatch(/0x401/);
  });

  it('writes ctx registers for register-ABI rewrites and uses the ring buffer when asked', () => {
    const program = generateProgram([plan(ebpfDemo, 'abiinternal', { rewrites: new Map([['a1', -1n]]) })], { transport: 'ring' });
    expect(program.text).toContain(
      ['  ctx->ax = 0xffffffffffffffffULL; // rewrite a1', '  *(s64 *)(d + 72) = 0; // a ctx write the verifier accepted cannot fail'].join('\n'),
    );
    expect(program.text).toContain('BPF_RINGBUF_OUTPUT(golab_events, 64);');
  });
});

describe('rewrite outcomes', () => {
  const strings = signature([
    ['s', goTypes.string],
    ['t', goTypes.string],
  ]);
  /** Strings(s, t) under ABI0 with both strings rewritten: s at 56, t at 136, their data at 72 and 152. */
  const entry = plan(strings, 'abi0', { rewrites: new Map([['s', 'HELLO'], ['t', 'abc']]) }).probes[0]!;
  const [sStep, tStep] = entry.rewrites;
  /** An entry event of a PIE loaded at `bias`, with both strings' pointers and lengths and the outcomes. */
  const event = (bias: bigint, s: { ptr: bigint; len: bigint; outcome: bigint }, t: { ptr: bigint; len: bigint; outcome: bigint }) => {
    const e = fakeEvent(entry, () => {});
    e.writeBigUInt64LE(BigInt(entry.vaddr) + bias, 32);
    e.writeBigUInt64LE(s.ptr, 56);
    e.writeBigInt64LE(s.len, 64);
    e.writeBigUInt64LE(t.ptr, 136);
    e.writeBigInt64LE(t.len, 144);
    e.writeBigInt64LE(s.outcome, sStep!.resultAt);
    e.writeBigInt64LE(t.outcome, tStep!.resultAt);
    return e;
  };

  it('gives each rewrite an outcome slot after the reads, and stores 0, -errno or 1 there', () => {
    expect(entry.reads.map((r) => [r.slot, r.derefs[0]!.area])).toEqual([
      [56, 72],
      [136, 152],
    ]);
    expect([sStep!.resultAt, tStep!.resultAt, entry.eventSize]).toEqual([216, 224, 232]);
    const text = generateProgram([plan(strings, 'abi0', { rewrites: new Map([['s', 'HELLO'], ['t', 'abc']]) })], { transport: 'perf' }).text;
    expect(text).toContain(
      [
        '  { // rewrite s: same-length string data, in place',
        '    u64 p = 0, n = 0;',
        '    s64 r = 1;',
        '    __builtin_memcpy(&p, d + 56, 8);',
        '    __builtin_memcpy(&n, d + 64, 8);',
        '    u8 v[5] = {72, 69, 76, 76, 79};',
        '    if (p != 0 && n == 5) r = bpf_probe_write_user((void *)p, v, 5);',
        '    *(s64 *)(d + 216) = r;',
        '  }',
      ].join('\n'),
    );
    // Outcomes are stored after the read fault mask and before the event is submitted.
    expect(text.indexOf('*(u64 *)(d + 48) = errors;')).toBeLessThan(text.indexOf('*(s64 *)(d + 216) = r;'));
    expect(text.indexOf('*(s64 *)(d + 224) = r;')).toBeLessThan(text.indexOf('golab_events.perf_submit(ctx, d, 232)'));
  });

  it('decodes a done write as ok and a refused one with the errno, naming a read-only segment from the unbiased address', () => {
    const bias = 0x7f0000000000n;
    const seen: bigint[] = [];
    const readOnly = (address: bigint) => {
      seen.push(address);
      return address >= 0x4b0000n && address < 0x4c0000n;
    };
    const decoded = decodeEvent(
      event(bias, { ptr: 0xc000012345n, len: 5n, outcome: 0n }, { ptr: bias + 0x4b1234n, len: 3n, outcome: -14n }),
      entry,
      undefined,
      readOnly,
    );
    expect(decoded.rewrites).toEqual([
      { param: 's', value: 'HELLO', via: 'string-data', ok: true },
      {
        param: 't',
        value: 'abc',
        via: 'string-data',
        ok: false,
        errno: 14,
        readOnly: true,
        reason: "its data (0x7f00004b1234) is in the binary's read-only segment, which bpf_probe_write_user cannot write",
      },
    ]);
    expect(seen).toEqual([0x4b1234n]);
    // Writable memory that still refused (e.g. a page not yet faulted in): the errno, named.
    const elsewhere = decodeEvent(event(bias, { ptr: 0xc000012345n, len: 5n, outcome: -14n }, { ptr: 0n, len: 0n, outcome: 1n }), entry, undefined, readOnly);
    expect(elsewhere.rewrites.map((r) => [r.ok, r.errno, r.reason])).toEqual([
      [false, 14, 'bpf_probe_write_user returned -14 (EFAULT)'],
      [false, undefined, "not written: the string's data pointer is nil"],
    ]);
  });

  it('says why a string write was not attempted when the length at the call differs', () => {
    const decoded = decodeEvent(event(0n, { ptr: 0xc000012345n, len: 6n, outcome: 1n }, { ptr: 0x4b1234n, len: 3n, outcome: -1n }), entry);
    expect(decoded.rewrites.map((r) => [r.param, r.ok, r.errno, r.reason])).toEqual([
      ['s', false, undefined, 'not written: the string has 6 bytes at this call, the new value 5 (a rewrite keeps the length)'],
      ['t', false, 1, 'bpf_probe_write_user returned -1 (EPERM)'],
    ]);
  });

  it('reports register rewrites as done and other probes without outcomes', () => {
    const probes = plan(ebpfDemo, 'abiinternal', { rewrites: new Map<string, bigint | boolean>([['a2', false]]) }).probes;
    const regEntry = probes[0]!;
    const decoded = decodeEvent(fakeEvent(regEntry, () => {}), regEntry);
    expect(decoded.rewrites).toEqual([{ param: 'a2', value: false, via: 'reg', ok: true }]);
    const ret = probes.find((p) => p.kind === 'return')!;
    expect(decodeEvent(fakeEvent(ret, () => {}), ret).rewrites).toEqual([]);
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
