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
