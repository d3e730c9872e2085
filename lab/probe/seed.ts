/**
 * The tutorial's experiment, reusable: trace (and optionally rewrite) `main.ebpfDemo(a1 int,
 * a2 bool, a3 float32)` of the seed tracee with the hand-written programs in bpf/.
 *
 * It keeps the tutorial's order — attach to the binary path first, then start the process —
 * so the probe sees the one call the tracee makes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { BpfModule, PerfBuffer, Uprobe } from '../bcc/index.ts';
import { ElfFile, findFunction } from '../elf/index.ts';

/** Which of the two programs in bpf/ to use. */
export type SeedAbi = 'abi0' | 'abiinternal';

/** One decoded event of the seed programs. */
export interface SeedEvent {
  readonly a1: bigint;
  readonly a2: boolean;
  /** The float32 argument, or undefined under ABIInternal where it sits in X0. */
  readonly a3: number | undefined;
  /** Why a3 is missing, when it is. */
  readonly a3Unreadable: string | undefined;
  /** The event's bytes, as the tutorial printed them. */
  readonly raw: Buffer;
}

/** Options of {@link traceSeed}. */
export interface SeedTraceOptions {
  /** The seed tracee binary. */
  readonly binaryPath: string;
  /** Stack ABI (gc < 1.17) or register ABI (gc ≥ 1.17). */
  readonly abi: SeedAbi;
  /** Overwrite a1 with this value (needs bpf_probe_write_user or ctx register writes). */
  readonly rewriteA1?: number;
  /** Arguments for the tracee. */
  readonly traceeArgs?: readonly string[];
}

/** What a seed run saw. */
export interface SeedTraceResult {
  readonly events: readonly SeedEvent[];
  /** The tracee's standard output. */
  readonly traceeOutput: string;
}

const BPF_DIR = fileURLToPath(new URL('../../bpf/', import.meta.url));

/** The program text for an ABI, from bpf/. */
export function seedProgramText(abi: SeedAbi): string {
  return readFileSync(`${BPF_DIR}${abi === 'abi0' ? 'seed_stack.c' : 'seed_regs.c'}`, 'utf8');
}

/** Decodes one event of bpf/seed_stack.c or bpf/seed_regs.c (`{u64 a1; char a2; pad[3]; float a3}`). */
export function decodeSeedEvent(data: Buffer, abi: SeedAbi): SeedEvent {
  const raw = Buffer.from(data);
  const a1 = raw.readBigInt64LE(0);
  const a2 = raw[8] !== 0;
  if (abi === 'abiinternal') {
    return { a1, a2, a3: undefined, a3Unreadable: 'in X0, not readable from saved registers', raw };
  }
  return { a1, a2, a3: raw.readFloatLE(12), a3Unreadable: undefined, raw };
}

/** Runs the tutorial's experiment once and returns the events and the tracee's output. */
export async function traceSeed(options: SeedTraceOptions): Promise<SeedTraceResult> {
  const cflags = options.rewriteA1 === undefined ? [] : [`-DGOLAB_REWRITE_A1=${options.rewriteA1}`];
  const fn = findFunction(ElfFile.open(options.binaryPath), 'main.ebpfDemo');
  using module = BpfModule.compile(seedProgramText(options.abi), { cflags });
  const program = module.load('get_arguments');
  using _probe = Uprobe.attach(program.fd, { binaryPath: options.binaryPath, fileOffset: fn.fileOffset });
  const events: SeedEvent[] = [];
  await using buffer = PerfBuffer.open(module, 'events', (data) => events.push(decodeSeedEvent(data, options.abi)));
  buffer.start();
  const tracee = await execa(options.binaryPath, [...(options.traceeArgs ?? [])], { reject: false, timeout: 30_000 });
  await buffer.stop();
  if (tracee.exitCode !== 0) {
    throw new Error(`the seed tracee exited with ${tracee.exitCode ?? tracee.signal}: ${tracee.stderr}`);
  }
  return { events, traceeOutput: tracee.stdout };
}
