/**
 * The tutorial's experiment, for real: the seed tracee built with Go 1.15 (stack ABI) and with
 * register-ABI Gos, traced through libbcc with the programs in bpf/, and its first argument
 * rewritten wherever the kernel allows it.
 *
 * Expected values come from the tracee's own printout of an unprobed run, never from constants.
 */
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { traceSeed, type SeedAbi } from '../lab/probe/seed.ts';
import { requireCapability } from './support/capabilities.ts';
import { build, newestGc } from './support/tracees.ts';

/** The tracee's own report of one ebpfDemo call. */
interface Printed {
  a1: bigint;
  a2: boolean;
  a3: string;
}

function parseDemoLine(output: string): Printed {
  const match = /^ebpfDemo:: a1=(-?\d+), a2=(true|false) a3=(-?[\d.]+)$/m.exec(output);
  if (!match) throw new Error(`no ebpfDemo line in tracee output:\n${output}`);
  return { a1: BigInt(match[1]!), a2: match[2] === 'true', a3: match[3]! };
}

/** The rewrite the tutorial makes. */
const REWRITTEN_A1 = 2021;

const cases: { go: string; abi: SeedAbi }[] = [
  { go: '1.15', abi: 'abi0' },
  { go: '1.19', abi: 'abiinternal' },
  { go: 'newest', abi: 'abiinternal' },
];

describe.each(cases)('seed tracee built with Go $go ($abi)', ({ go, abi }) => {
  let binary: string;
  let unprobed: Printed;
  let unprobedOutput: string;

  beforeAll(async () => {
    const spec = go === 'newest' ? (await newestGc()).version : go;
    binary = (await build('seed', spec)).path;
    const run = await execa(binary);
    unprobedOutput = run.stdout;
    unprobed = parseDemoLine(run.stdout);
  });

  it('traces a1, a2 (and a3 on the stack ABI) exactly as the tracee prints them', async (context) => {
    await requireCapability(context, 'uprobeRead');
    const { events, traceeOutput } = await traceSeed({ binaryPath: binary, abi });
    expect(traceeOutput).toBe(unprobedOutput);
    // One call, but the entry probe fires again if the prologue grows the stack and restarts
    // the function (seen on the 6.1 VM kernel): every firing must read the same values.
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.length).toBeLessThanOrEqual(2);
    for (const repeat of events.slice(1)) expect(repeat.raw).toEqual(events[0]!.raw);
    const [event] = events;
    expect(event!.a1).toBe(unprobed.a1);
    expect(event!.a2).toBe(unprobed.a2);
    if (abi === 'abi0') {
      expect(event!.a3!.toFixed(2)).toBe(unprobed.a3);
      expect(event!.a3).toBe(Math.fround(Number(unprobed.a3)));
    } else {
      expect(event!.a3).toBeUndefined();
      expect(event!.a3Unreadable).toBe('in X0, not readable from saved registers');
    }
  });

  it(`rewrites a1 to ${REWRITTEN_A1}, and the tracee prints the new value`, async (context) => {
    await requireCapability(context, abi === 'abi0' ? 'probeWriteUser' : 'ctxRegisterWrite');
    const { events, traceeOutput } = await traceSeed({ binaryPath: binary, abi, rewriteA1: REWRITTEN_A1 });
    const printed = parseDemoLine(traceeOutput);
    expect(printed).toEqual({ ...unprobed, a1: BigInt(REWRITTEN_A1) });
    expect(traceeOutput).toContain(`ebpfDemo:: a1=${REWRITTEN_A1}, a2=${unprobed.a2} a3=${unprobed.a3}`);
    // The probe reports what it read before writing; a stack-growth restart of the function
    // fires it again and then reads the already-rewritten value, which is why writes must be
    // idempotent.
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]!.a1).toBe(unprobed.a1);
    for (const later of events.slice(1)) expect([unprobed.a1, BigInt(REWRITTEN_A1)]).toContain(later.a1);
  });
});
