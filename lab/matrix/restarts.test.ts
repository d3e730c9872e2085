import { describe, expect, it } from 'vitest';
import type { TracedCall } from '../probe/calls.ts';
import type { NamedValue } from '../probe/values.ts';
import { foldSplitRestarts, isSplitRestart } from './restarts.ts';

const float = (name: string, value: number): NamedValue => ({ name, type: 'float32', value: { kind: 'float', value, bits: 32 } });
const unreadable = (name: string, reg: string): NamedValue => ({
  name,
  type: 'float32',
  value: { kind: 'unreadable', reason: `in ${reg}, not readable from saved registers` },
});
const int = (name: string, value: bigint): NamedValue => ({ name, type: 'int', value: { kind: 'int', value } });

/** A call as CallAssembler emits it (the fields the matrix reads). */
function call(args: NamedValue[], results: NamedValue[] | undefined, entryKtimeNs: bigint, extra: Partial<TracedCall> = {}): TracedCall {
  return {
    function: 'main.Float32s',
    pid: 100,
    tid: 101,
    args,
    results,
    restarts: 0,
    entryKtimeNs,
    returnKtimeNs: results ? entryKtimeNs + 50n : undefined,
    ...extra,
  } as TracedCall;
}

describe('foldSplitRestarts', () => {
  // Entry (floats unreadable), spill probes (floats read from the spill slots), morestack,
  // entry again (unreadable again: not "the same values"), RET.
  const open = call([float('a', 1.5), float('b', -2.25)], undefined, 1000n);
  const restart = call([unreadable('a', 'X0'), unreadable('b', 'X1')], [float('r0', -0.75)], 2000n);

  it('folds a call that never returned into its restart: spilled args, the restart results', () => {
    expect(isSplitRestart(open, restart)).toBe(true);
    expect(foldSplitRestarts([open, restart])).toEqual([
      { ...restart, args: open.args, entryKtimeNs: 1000n, restarts: 1 },
    ]);
  });

  it('keeps calls apart that differ in a readable value, or where the first returned', () => {
    const other = call([int('n', 1n)], undefined, 1000n);
    const again = call([int('n', 2n)], [int('r0', 2n)], 2000n);
    expect(foldSplitRestarts([other, again])).toHaveLength(2);
    const returned = call([float('a', 1.5), float('b', -2.25)], [float('r0', -0.75)], 1000n);
    expect(foldSplitRestarts([returned, restart])).toHaveLength(2);
    expect(isSplitRestart(open, { ...restart, pid: 200 })).toBe(false);
    expect(isSplitRestart(open, { ...restart, entryKtimeNs: 500n })).toBe(false);
  });

  it('leaves a single call as it is', () => {
    expect(foldSplitRestarts([restart])).toEqual([restart]);
    expect(foldSplitRestarts([])).toEqual([]);
  });
});
