/**
 * What the running kernel lets a uprobe program do, found by loading, attaching and running
 * tiny programs — never by reading version numbers, which backports make lie.
 *
 * Each probe attaches to a libc function in this process only (pid filter), calls it through
 * koffi with a distinctive argument, and checks the effect:
 * - uprobe reads: the program reads a register and a stack slot and reports them;
 * - bpf_probe_write_user: the program writes into the buffer the call passes;
 * - ctx register writes: the program changes an argument register, and the call's result shows it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import koffi from 'koffi';
import { GolabError, isGolabError } from '../errors.ts';
import { loadLibBcc, type LibBcc } from './library.ts';
import { BpfModule } from './module.ts';
import { PerfBuffer } from './perf-buffer.ts';
import { RingBuffer } from './ring-buffer.ts';
import { resolveSymbol } from './symbols.ts';
import { Uprobe } from './uprobe.ts';

/** The outcome of one capability probe. */
export interface CapabilityResult {
  /** True when the kernel did what the probe asked. */
  readonly ok: boolean;
  /** Why not (or what was seen), in words a skip message can carry. */
  readonly reason: string;
}

/** The capabilities a Go tracer and rewriter needs. */
export interface KernelCapabilities {
  /** A uprobe program can read registers and user stack memory. */
  readonly uprobeRead: CapabilityResult;
  /** A uprobe program can write user memory with bpf_probe_write_user (stack-ABI rewrites). */
  readonly probeWriteUser: CapabilityResult;
  /** A uprobe program can change the saved registers (register-ABI rewrites). */
  readonly ctxRegisterWrite: CapabilityResult;
  /** The ring buffer map type exists. */
  readonly ringBuffer: CapabilityResult;
}

/** The kernel's lockdown mode, from securityfs: `none`, `integrity`, `confidentiality`, or `unknown`. */
export function lockdownMode(): string {
  const file = '/sys/kernel/security/lockdown';
  if (!existsSync(file)) return 'unknown';
  const match = /\[(\w+)\]/.exec(readFileSync(file, 'utf8'));
  return match?.[1] ?? 'unknown';
}

const PROBE_PROGRAM = `
#include <uapi/linux/ptrace.h>

#define GOLAB_MAGIC_READ 0x601ab5eedULL
#define GOLAB_MAGIC_WRITE 0x601ab5eeeULL

struct read_event { u64 arg; u64 return_address; };
BPF_PERF_OUTPUT(read_events);

int probe_read(struct pt_regs *ctx) {
  if (ctx->di != GOLAB_MAGIC_READ) return 0;
  struct read_event event = {};
  event.arg = ctx->di;
  bpf_probe_read_user(&event.return_address, sizeof(event.return_address), (void *)ctx->sp);
  read_events.perf_submit(ctx, &event, sizeof(event));
  return 0;
}

int probe_write_user(struct pt_regs *ctx) {
  if (ctx->si != 0) return 0;
  char text[8] = "golab!!";
  bpf_probe_write_user((void *)ctx->di, text, sizeof(text));
  return 0;
}

int probe_ctx_write(struct pt_regs *ctx) {
  if (ctx->di != GOLAB_MAGIC_WRITE) return 0;
  ctx->di = 7;
  return 0;
}
`;

// Separate from PROBE_PROGRAM: before Linux 5.8 creating the ring buffer map fails, and with it
// the whole module.
const RING_PROGRAM = `
#include <uapi/linux/ptrace.h>
BPF_RINGBUF_OUTPUT(ring_events, 1);

int probe_ring(struct pt_regs *ctx) {
  u64 value = ctx->di;
  ring_events.ringbuf_output(&value, sizeof(value), 0);
  return 0;
}
`;

const MAGIC_READ = 0x601ab5eedn;
const MAGIC_WRITE = 0x601ab5eeen;

let memo: KernelCapabilities | undefined;

/**
 * Probes the running kernel. Results are cached in this process and, keyed by boot id, kernel,
 * lockdown mode and libbcc, under /run so that test workers do not each compile the probes.
 */
export async function probeCapabilities(libbcc: LibBcc = loadLibBcc()): Promise<KernelCapabilities> {
  if (memo) return memo;
  const cacheFile = cachePath(libbcc);
  if (cacheFile && existsSync(cacheFile)) {
    try {
      memo = JSON.parse(readFileSync(cacheFile, 'utf8')) as KernelCapabilities;
      return memo;
    } catch {
      // A torn cache file is simply probed again.
    }
  }
  memo = await runProbes(libbcc);
  if (cacheFile) {
    try {
      mkdirSync('/run/go-ebpf-lab', { recursive: true });
      writeFileSync(cacheFile, JSON.stringify(memo));
    } catch {
      // Not root, or no /run: probing again next time is fine.
    }
  }
  return memo;
}

function cachePath(libbcc: LibBcc): string | undefined {
  if (process.env.GOLAB_NO_CAPABILITY_CACHE) return undefined;
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const key = `${boot}-${lockdownMode()}-${libbcc.path.replaceAll('/', '_')}`;
    return `/run/go-ebpf-lab/capabilities-${key}.json`;
  } catch {
    return undefined;
  }
}

async function runProbes(libbcc: LibBcc): Promise<KernelCapabilities> {
  let module: BpfModule;
  try {
    module = BpfModule.compile(PROBE_PROGRAM, { libbcc });
  } catch (error) {
    const reason = `compiling the probe programs failed: ${describe(error)}`;
    const failed = { ok: false, reason };
    return { uprobeRead: failed, probeWriteUser: failed, ctxRegisterWrite: failed, ringBuffer: failed };
  }
  try {
    const libc = koffi.load('libc.so.6');
    const labs = libc.func('long labs(long j)') as (j: bigint) => bigint | number;
    const memfrob = libc.func('void *memfrob(void *s, size_t n)') as (s: Buffer, n: number) => unknown;
    const labsSymbol = resolveSymbol('c', 'labs', 0, libbcc);
    const memfrobSymbol = resolveSymbol('c', 'memfrob', 0, libbcc);
    const at = (symbol: typeof labsSymbol) => ({ ...symbol, pid: process.pid });

    const uprobeRead = await probeRead(module, libbcc, at(labsSymbol), () => labs(MAGIC_READ));
    const ringBuffer = await probeRing(libbcc, at(labsSymbol), () => labs(MAGIC_READ));
    const probeWriteUser = probeWrite(module, libbcc, at(memfrobSymbol), memfrob);
    const ctxRegisterWrite = probeCtxWrite(module, libbcc, at(labsSymbol), () => labs(MAGIC_WRITE));
    return { uprobeRead, probeWriteUser, ctxRegisterWrite, ringBuffer };
  } finally {
    module.dispose();
  }
}

type Target = { binaryPath: string; fileOffset: number; pid: number };

async function probeRead(module: BpfModule, libbcc: LibBcc, target: Target, call: () => unknown): Promise<CapabilityResult> {
  let events: Buffer[] = [];
  try {
    const program = module.load('probe_read');
    using _probe = Uprobe.attach(program.fd, target, libbcc);
    const buffer = PerfBuffer.open(module, 'read_events', (data) => events.push(Buffer.from(data)), { pageCount: 8 });
    try {
      call();
      buffer.drainNow();
    } finally {
      await buffer.stop();
    }
  } catch (error) {
    return { ok: false, reason: `uprobe read probe failed: ${describe(error)}` };
  }
  events = events.filter((e) => e.length >= 16);
  const event = events[0];
  if (!event) return { ok: false, reason: 'uprobe on libc labs() attached but never reported an event' };
  const arg = event.readBigUInt64LE(0);
  const returnAddress = event.readBigUInt64LE(8);
  if (arg !== MAGIC_READ) return { ok: false, reason: `uprobe read the wrong register value 0x${arg.toString(16)}` };
  if (returnAddress === 0n) return { ok: false, reason: 'uprobe could not read the user stack (bpf_probe_read_user gave 0)' };
  return { ok: true, reason: 'a uprobe program read a register and a user stack slot' };
}

async function probeRing(libbcc: LibBcc, target: Target, call: () => unknown): Promise<CapabilityResult> {
  let module: BpfModule | undefined;
  try {
    module = BpfModule.compile(RING_PROGRAM, { libbcc });
    const program = module.load('probe_ring');
    using _probe = Uprobe.attach(program.fd, target, libbcc);
    const seen: bigint[] = [];
    const ring = RingBuffer.open(module, 'ring_events', (data) => seen.push(data.readBigUInt64LE(0)));
    try {
      call();
      ring.drainNow();
    } finally {
      await ring.stop();
    }
    if (!seen.includes(MAGIC_READ)) return { ok: false, reason: 'ring buffer opened but delivered no event' };
    return { ok: true, reason: 'BPF_RINGBUF_OUTPUT delivered an event' };
  } catch (error) {
    return { ok: false, reason: `ring buffer probe failed: ${describe(error)}` };
  } finally {
    module?.dispose();
  }
}

function probeWrite(module: BpfModule, libbcc: LibBcc, target: Target, memfrob: (s: Buffer, n: number) => unknown): CapabilityResult {
  try {
    const program = module.load('probe_write_user');
    using _probe = Uprobe.attach(program.fd, target, libbcc);
    const buffer = Buffer.alloc(8);
    memfrob(buffer, 0);
    const seen = buffer.toString('latin1', 0, 7);
    if (seen !== 'golab!!') return { ok: false, reason: 'bpf_probe_write_user loaded but the user buffer did not change' };
    return { ok: true, reason: 'bpf_probe_write_user changed a user buffer' };
  } catch (error) {
    if (isGolabError(error, 'BPF_HELPER_REFUSED')) {
      const mode = lockdownMode();
      const why = mode === 'none' || mode === 'unknown' ? 'the kernel' : `lockdown=${mode}`;
      return { ok: false, reason: `${why} refuses bpf_probe_write_user` };
    }
    return { ok: false, reason: `bpf_probe_write_user probe failed: ${describe(error)}` };
  }
}

function probeCtxWrite(module: BpfModule, libbcc: LibBcc, target: Target, call: () => bigint | number): CapabilityResult {
  try {
    const program = module.load('probe_ctx_write');
    using _probe = Uprobe.attach(program.fd, target, libbcc);
    const result = BigInt(call());
    if (result !== 7n) return { ok: false, reason: 'the kernel accepts uprobe writes to ctx registers but does not apply them' };
    return { ok: true, reason: 'a uprobe program changed an argument register' };
  } catch (error) {
    if (isGolabError(error, 'BPF_CTX_WRITE_REFUSED')) {
      return { ok: false, reason: 'the kernel refuses uprobe writes to ctx registers (invalid bpf_context access)' };
    }
    return { ok: false, reason: `ctx register write probe failed: ${describe(error)}` };
  }
}

function describe(error: unknown): string {
  if (error instanceof GolabError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
