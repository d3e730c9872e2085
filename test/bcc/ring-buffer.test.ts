/**
 * The ring buffer readers of lab/bcc, on a real ring: a one-page BPF_RINGBUF_OUTPUT that
 * tracee/hot's 20,000 calls wrap around a hundred times, with records of every length from 8 to
 * 23 bytes so each padding to 8 bytes occurs. Both readers — the mapping read in JavaScript and
 * libbcc's bpf_consume_ringbuf — must deliver every record the kernel accepted, in order, with
 * its exact bytes; the program counts the records the kernel refused (ring full), so nothing
 * can go missing unnoticed.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BpfModule, RingBuffer, Uprobe } from '../../lab/bcc/index.ts';
import { ElfFile } from '../../lab/elf/file.ts';
import { findFunction } from '../../lab/elf/functions.ts';
import { requireCapability } from '../support/capabilities.ts';
import { buildTracee, traceeDir } from '../../lab/toolchain/index.ts';
import { newestGc } from '../support/tracees.ts';

const CALLS = 20_000;
const TAIL = 15;

/** `main.hot(a int)` under ABIInternal: a is in RAX. Record: a, then a%16 bytes a+0, a+1, … */
const PROGRAM = `
#include <uapi/linux/ptrace.h>
BPF_RINGBUF_OUTPUT(events, 1);
BPF_ARRAY(refused, u64, 1);

struct record {
  u64 a;
  u8 tail[${TAIL}];
};

int on_hot(struct pt_regs *ctx) {
  struct record r = {};
  r.a = ctx->ax;
  #pragma unroll
  for (int i = 0; i < ${TAIL}; i++) r.tail[i] = (u8)(r.a + i);
  u32 size = 8 + (u32)(r.a % 16);
  if (size > 8 + ${TAIL}) size = 8 + ${TAIL};
  if (events.ringbuf_output(&r, size, 0) != 0) {
    int zero = 0;
    u64 *count = refused.lookup(&zero);
    if (count) __sync_fetch_and_add(count, 1);
  }
  return 0;
}
`;

describe.each(['mapped', 'libbcc'] as const)('the %s ring buffer reader', (reader) => {
  it('delivers every accepted record in order with its exact bytes, across wraparounds', async (context) => {
    await requireCapability(context, 'ringBuffer');
    const binary = (await buildTracee({ tracee: traceeDir('hot'), toolchain: await newestGc(), mode: 'default' })).path;
    const hot = findFunction(ElfFile.open(binary), 'main.hot');
    using module = BpfModule.compile(PROGRAM);
    const program = module.load('on_hot');
    const seen: bigint[] = [];
    const malformed: string[] = [];
    const ring = RingBuffer.open(
      module,
      'events',
      (data) => {
        const a = data.readBigUInt64LE(0);
        seen.push(a);
        const tail = Number(a % 16n);
        if (data.length !== 8 + tail) malformed.push(`a=${a}: ${data.length} bytes, wanted ${8 + tail}`);
        for (let i = 0; i < tail && i < data.length - 8; i++) {
          if (data[8 + i] !== Number((a + BigInt(i)) & 0xffn)) malformed.push(`a=${a}: byte ${i} is ${data[8 + i]}`);
        }
      },
      { reader },
    );
    expect(ring.reader).toBe(reader);
    const probe = Uprobe.attach(program.fd, { binaryPath: binary, fileOffset: hot.fileOffset });
    try {
      ring.start();
      const run = await execa(binary, ['-n', String(CALLS)], { timeout: 120_000 });
      expect(run.stdout).toMatch(new RegExp(`calls=${CALLS} `));
    } finally {
      probe.dispose();
      await ring.stop();
    }
    const refusedCount = Buffer.alloc(8);
    expect(module.libbcc.fn.bpf_lookup_elem(module.tableFd('refused'), Buffer.alloc(4), refusedCount)).toBe(0);
    const refused = Number(refusedCount.readBigUInt64LE(0));
    expect(malformed).toEqual([]);
    expect(seen.length + refused).toBe(CALLS);
    // In order, no duplicates, every value one of the calls'.
    for (let i = 1; i < seen.length; i++) if (seen[i]! <= seen[i - 1]!) expect.fail(`record ${i} (a=${seen[i]}) after a=${seen[i - 1]}`);
    expect(seen[0]! >= 0n && seen.at(-1)! < BigInt(CALLS)).toBe(true);
    await context.annotate(`${seen.length} records read, ${refused} refused by a full ring`);
  });
});
