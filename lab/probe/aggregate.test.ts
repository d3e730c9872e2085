/**
 * Aggregation mode: the program text, the histogram arithmetic and formatting, where the probes
 * go in a real Go 1.19 build of tracee/hot (compared with `go tool objdump`), and — where the
 * kernel lets this process attach uprobes — exact counts against the tracee's own printout.
 */
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeCapabilities } from '../bcc/capabilities.ts';
import { ElfFile } from '../elf/index.ts';
import { buildTracee, findToolchain, traceeDir } from '../toolchain/index.ts';
import {
  AggregateSession,
  aggregateProgram,
  aggregateTargets,
  bucketsFromSlots,
  callerKeyFor,
  formatAggregates,
  formatHistogram,
  HISTOGRAM_SLOTS,
  slotRange,
} from './aggregate.ts';

describe('aggregateProgram', () => {
  it('counts at entry only in count mode', () => {
    const text = aggregateProgram(2, 'count', 'goroutine');
    expect(text).toContain('BPF_ARRAY(golab_calls, u64, 2);');
    expect(text).toContain('int golab_entry_0(struct pt_regs *ctx) {');
    expect(text).toContain('int golab_entry_1(struct pt_regs *ctx) {');
    expect(text).not.toContain('golab_return_');
    expect(text).not.toContain('golab_start');
  });

  it('times calls by goroutine (R14) or by thread, into 64 slots per function', () => {
    const byG = aggregateProgram(3, 'latency', 'goroutine');
    expect(byG).toContain(`BPF_ARRAY(golab_hist, u64, ${3 * HISTOGRAM_SLOTS});`);
    expect(byG).toContain('struct golab_caller caller = { .owner = ctx->r14, .fn = 2 };');
    expect(byG).toContain(`u32 index = ${2 * HISTOGRAM_SLOTS} + slot;`);
    expect(byG).toContain('int golab_return_2(struct pt_regs *ctx) {');
    const byThread = aggregateProgram(1, 'latency', 'thread');
    expect(byThread).toContain('.owner = bpf_get_current_pid_tgid()');
    expect(byThread).not.toContain('ctx->r14');
  });

  it('refuses an empty function list', () => {
    expect(() => aggregateProgram(0, 'count', 'thread')).toThrow(RangeError);
  });
});

describe('histogram', () => {
  it('maps bcc log2 slots to nanosecond ranges', () => {
    expect(slotRange(0)).toEqual({ lowNs: 0n, highNs: 0n });
    expect(slotRange(1)).toEqual({ lowNs: 1n, highNs: 1n });
    expect(slotRange(2)).toEqual({ lowNs: 2n, highNs: 3n });
    expect(slotRange(14)).toEqual({ lowNs: 8192n, highNs: 16383n });
    expect(slotRange(63)).toEqual({ lowNs: 1n << 62n, highNs: (1n << 63n) - 1n });
  });

  it('keeps only non-empty slots', () => {
    const counts = Array.from({ length: HISTOGRAM_SLOTS }, () => 0n);
    counts[3] = 5n;
    counts[5] = 1n;
    expect(bucketsFromSlots(counts)).toEqual([
      { lowNs: 4n, highNs: 7n, count: 5n },
      { lowNs: 16n, highNs: 31n, count: 1n },
    ]);
  });

  it('prints like funclatency, empty slots between included', () => {
    const text = formatHistogram(
      [
        { lowNs: 4n, highNs: 7n, count: 8n },
        { lowNs: 16n, highNs: 31n, count: 2n },
      ],
      'nsecs',
      8,
    );
    expect(text.split('\n')).toEqual([
      '     nsecs               : count     distribution',
      '         4 -> 7          : 8        |********|',
      '         8 -> 15         : 0        |        |',
      '        16 -> 31         : 2        |**      |',
    ]);
    expect(formatHistogram([])).toContain('(no calls returned)');
  });
});

describe('tracee/hot built with Go 1.19', () => {
  let binary: string;
  let cleanup = () => {};
  afterAll(() => cleanup());
  beforeAll(async () => {
    const toolchain = await findToolchain('go1.19');
    // A private copy, so that no other process running the cached binary adds to the counts.
    const scratch = mkdtempSync(join(tmpdir(), 'golab-aggregate-'));
    binary = join(scratch, 'hot');
    copyFileSync((await buildTracee({ tracee: traceeDir('hot'), toolchain, mode: 'default' })).path, binary);
    chmodSync(binary, 0o755);
    cleanup = () => rmSync(scratch, { recursive: true, force: true });
  }, 120_000);

  it('puts the entry probe on main.hot and a return probe on its RET, as objdump shows them', async () => {
    const dump = await execa('/usr/lib/go-1.19/bin/go', ['tool', 'objdump', '-s', '^main\\.hot$', binary]);
    const lines = dump.stdout.split('\n').filter((l) => /\t0x[0-9a-f]+\t/.test(l));
    const vaddrOf = (line: string) => Number.parseInt(/\t(0x[0-9a-f]+)\t/.exec(line)![1]!, 16);
    const entryVaddr = vaddrOf(lines[0]!);
    const retVaddrs = lines.filter((l) => /\tRET\s*$/.test(l)).map(vaddrOf);
    const elf = ElfFile.open(binary);
    const text = elf.sections.find((s) => s.name === '.text')!;
    const toOffset = (vaddr: number) => vaddr - Number(text.addr) + Number(text.offset);
    const [target] = aggregateTargets(elf, ['main.hot']);
    expect(target).toEqual({ function: 'main.hot', entryOffset: toOffset(entryVaddr), returnOffsets: retVaddrs.map(toOffset) });
    expect(retVaddrs.length).toBeGreaterThan(0);
    expect(callerKeyFor(elf)).toBe('goroutine');
  });

  it('counts every call and times every return, exactly as many as the tracee made', async (context) => {
    const caps = await probeCapabilities();
    if (!caps.uprobeRead.ok) context.skip(`uprobeRead probe failed: ${caps.uprobeRead.reason}`);
    const calls = 5000;
    for (const mode of ['count', 'latency'] as const) {
      const session = await AggregateSession.start({ binaryPath: binary, functions: ['main.hot'], mode });
      let results;
      try {
        const run = await execa(binary, ['-n', String(calls)]);
        expect(run.stdout).toContain(`calls=${calls} `);
      } finally {
        results = await session.stop();
      }
      expect(results).toHaveLength(1);
      expect(results[0]!.calls).toBe(BigInt(calls));
      if (mode === 'latency') {
        const timed = results[0]!.latency!.reduce((sum, b) => sum + b.count, 0n);
        expect(timed).toBe(BigInt(calls));
      } else {
        expect(results[0]!.latency).toBeUndefined();
      }
    }
  }, 120_000);
});

describe('formatAggregates', () => {
  const results = [
    { function: 'main.hot', calls: 3n, latency: [{ lowNs: 4n, highNs: 7n, count: 3n }] },
    { function: 'main.cold', calls: 0n },
  ];
  it('prints counts and histograms', () => {
    expect(formatAggregates(results)).toBe(
      ['main.hot: 3 calls', formatHistogram(results[0]!.latency!), '', 'main.cold: 0 calls'].join('\n'),
    );
  });
  it('prints one JSON object per function with decimal strings', () => {
    expect(formatAggregates(results, true).split('\n').map((l) => JSON.parse(l))).toEqual([
      { function: 'main.hot', calls: '3', latency: [{ lowNs: '4', highNs: '7', count: '3' }] },
      { function: 'main.cold', calls: '0' },
    ]);
  });
});
