import { describe, expect, it } from 'vitest';
import { goTypes, signature } from '../abi/construct.ts';
import { layoutFunction } from '../abi/layout.ts';
import { CallAssembler, type TracedCall } from './calls.ts';
import { decodeEvent } from './decode.ts';
import { planFunction, type ProbeSpec } from './plan.ts';

/** `main.f(n int64) int64` under ABI0 with n rewritten to 7, one RET. */
const [entry, ret] = planFunction(
  {
    name: 'main.f',
    vaddr: 0x401000,
    fileOffset: 0x1000,
    layout: layoutFunction(signature([['n', goTypes.int64]], [['r0', goTypes.int64]]), 'abi0'),
    returnVaddrs: [0x401040],
    floatSpills: [],
  },
  { rewrites: new Map([['n', 7n]]) },
).probes as [ProbeSpec, ProbeSpec];

/** An event of `spec` on thread 42: the first value's 8 bytes and, for the entry, the outcome. */
function event(spec: ProbeSpec, value: bigint, outcome = 0n) {
  const data = Buffer.alloc(spec.eventSize);
  data.writeUInt32LE(spec.id, 0);
  data.writeUInt32LE(42, 4);
  data.writeUInt32LE(42, 8);
  data.writeBigUInt64LE(BigInt(spec.vaddr), 32);
  data.writeBigInt64LE(value, spec.reads[0]!.slot);
  if (spec.rewrites[0]) data.writeBigInt64LE(outcome, spec.rewrites[0].resultAt);
  return decodeEvent(data, spec);
}

describe('CallAssembler rewrite outcomes', () => {
  it('carries the entry probe outcomes into the call', () => {
    const calls: TracedCall[] = [];
    const assembler = new CallAssembler((call) => calls.push(call), false);
    assembler.add(event(entry, 5n, -14n));
    assembler.add(event(ret, 5n));
    expect(calls).toHaveLength(1);
    expect(calls[0]!.rewrites).toEqual([
      { param: 'n', value: 7n, via: 'stack', ok: false, errno: 14, reason: 'bpf_probe_write_user returned -14 (EFAULT)' },
    ]);
  });

  it('counts a write done at a stack-growth restart as done', () => {
    const calls: TracedCall[] = [];
    const assembler = new CallAssembler((call) => calls.push(call), false);
    // The first firing's write failed, so the restart reads the same value and writes again.
    assembler.add(event(entry, 5n, -14n));
    assembler.add(event(entry, 5n, 0n));
    assembler.add(event(ret, 7n));
    expect(calls.map((c) => [c.restarts, c.rewrites])).toEqual([[1, [{ param: 'n', value: 7n, via: 'stack', ok: true }]]]);
  });
});

describe('CallAssembler stack-growth restarts', () => {
  it('folds a restart that reads the value the first firing wrote', () => {
    const calls: TracedCall[] = [];
    const assembler = new CallAssembler((call) => calls.push(call), false);
    // The first firing rewrote n from 5 to 7; morestack then restarts f, whose entry reads 7.
    assembler.add(event(entry, 5n, 0n));
    assembler.add(event(entry, 7n, 0n));
    assembler.add(event(ret, 7n));
    expect(calls.map((c) => [c.args.map((a) => a.value), c.restarts])).toEqual([[[{ kind: 'int', value: 5n }], 1]]);
  });

  it('keeps a second entry with another value apart (recursion), and one with the rewritten value when the write failed', () => {
    const calls: TracedCall[] = [];
    const assembler = new CallAssembler((call) => calls.push(call), false);
    assembler.add(event(entry, 5n, -14n));
    assembler.add(event(entry, 7n, -14n));
    assembler.add(event(ret, 1n));
    assembler.add(event(ret, 2n));
    expect(calls.map((c) => [c.args.map((a) => a.value), c.results?.map((r) => r.value), c.restarts])).toEqual([
      [[{ kind: 'int', value: 7n }], [{ kind: 'int', value: 1n }], 0],
      [[{ kind: 'int', value: 5n }], [{ kind: 'int', value: 2n }], 0],
    ]);
  });

  it('folds a restart after a spill probe filled in a float argument the entry could not read', () => {
    // main.g(x float64) under ABIInternal: x arrives in X0; the spill probe reads it from the
    // stack slot the function's own prologue stores it to.
    const [gEntry, gSpill, gRet] = planFunction({
      name: 'main.g',
      vaddr: 0x402000,
      fileOffset: 0x2000,
      layout: layoutFunction(signature([['x', goTypes.float64]], []), 'abiinternal'),
      returnVaddrs: [0x402040],
      floatSpills: [{ xmmIndex: 0, probeVaddr: 0x402010, entrySpDelta: 0x18, spOffsetAtEntry: 8, size: 8 }],
    }).probes as [ProbeSpec, ProbeSpec, ProbeSpec];
    expect([gEntry.kind, gSpill.kind, gRet.kind]).toEqual(['entry', 'spill', 'return']);
    const fire = (spec: ProbeSpec, x?: number) => {
      const data = Buffer.alloc(spec.eventSize);
      data.writeUInt32LE(spec.id, 0);
      data.writeUInt32LE(42, 4);
      data.writeUInt32LE(42, 8);
      data.writeBigUInt64LE(BigInt(spec.vaddr), 32);
      if (x !== undefined) data.writeDoubleLE(x, spec.reads[0]!.slot);
      return decodeEvent(data, spec);
    };
    const calls: TracedCall[] = [];
    const assembler = new CallAssembler((call) => calls.push(call), false);
    assembler.add(fire(gEntry));
    assembler.add(fire(gSpill, 2.5));
    assembler.add(fire(gEntry));
    assembler.add(fire(gSpill, 2.5));
    assembler.add(fire(gRet));
    expect(calls.map((c) => [c.args.map((a) => a.value), c.restarts])).toEqual([[[{ kind: 'float', value: 2.5, bits: 64 }], 1]]);
  });
});

describe('CallAssembler keyed by thread', () => {
  /** An event of `spec` on thread `tid` with stack pointer `sp` and first value `value`. */
  function on(spec: ProbeSpec, tid: number, sp: bigint, value: bigint) {
    const data = Buffer.alloc(spec.eventSize);
    data.writeUInt32LE(spec.id, 0);
    data.writeUInt32LE(tid, 4);
    data.writeUInt32LE(42, 8);
    data.writeBigUInt64LE(sp, 24);
    data.writeBigUInt64LE(BigInt(spec.vaddr), 32);
    data.writeBigInt64LE(value, spec.reads[0]!.slot);
    return decodeEvent(data, spec);
  }
  const results = (calls: TracedCall[]) => calls.map((c) => [c.tid, c.args[0]!.value, c.results?.[0]?.value]);

  it('pairs a RET on another thread (the goroutine moved after a blocking syscall) with its call', () => {
    const calls: TracedCall[] = [];
    const assembler = new CallAssembler((call) => calls.push(call), false);
    assembler.add(on(entry, 42, 0xc000100000n, 5n));
    assembler.add(on(ret, 43, 0xc000100000n, 9n));
    assembler.flush();
    expect(results(calls)).toEqual([[42, { kind: 'int', value: 5n }, { kind: 'int', value: 9n }]]);
  });

  it('picks, among open calls on other threads, the one whose entry SP is the RET SP', () => {
    const calls: TracedCall[] = [];
    const assembler = new CallAssembler((call) => calls.push(call), false);
    assembler.add(on(entry, 42, 0xc000100000n, 5n));
    assembler.add(on(entry, 44, 0xc000200000n, 6n));
    assembler.add(on(ret, 43, 0xc000100000n, 9n));
    assembler.add(on(ret, 44, 0xc000200000n, 8n));
    expect(results(calls)).toEqual([
      [42, { kind: 'int', value: 5n }, { kind: 'int', value: 9n }],
      [44, { kind: 'int', value: 6n }, { kind: 'int', value: 8n }],
    ]);
  });
});
