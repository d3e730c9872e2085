/**
 * Uprobes attached as BPF links (`BPF_LINK_CREATE` with `BPF_TRACE_UPROBE_MULTI`, Linux ≥ 6.6)
 * instead of perf events.
 *
 * Why: closing a perf-event uprobe runs the kernel's perf_uprobe_destroy under the global
 * event_mutex and waits there for a tracepoint grace period (~0.1 s on the lab's machine type),
 * so detaches are serial — 84 probes take ~8.5 s whatever the concurrency, and every attach
 * meanwhile waits for the mutex. A uprobe-multi link is released without that mutex, so link
 * closes on several threads share grace periods (84 in ~0.1–1.5 s), and attaching takes
 * ~0.5 ms per probe. libbcc 0.26 has no API for it (its libbpf is internal), so this calls
 * bpf(2) itself. The program must be loaded with expected_attach_type BPF_TRACE_UPROBE_MULTI
 * ({@link BpfModule.load} with `attachType`). Kernels without it refuse the link (EINVAL):
 * callers fall back to {@link Uprobe}.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import koffi from 'koffi';
import { ExitCode, GolabError } from '../errors.ts';
import { bpf, close, errno, strerror } from './libc.ts';
import type { UprobeTarget } from './uprobe.ts';

/** `enum bpf_attach_type` value of uprobe-multi links (include/uapi/linux/bpf.h). */
export const BPF_TRACE_UPROBE_MULTI = 48;
/** `enum bpf_cmd` value of BPF_LINK_CREATE. */
const BPF_LINK_CREATE = 28;
/** Bytes of `union bpf_attr` this fills: link_create up to uprobe_multi.pid. */
const ATTR_SIZE = 64;

/** How many threads close links at once: enough for closes to share the kernel's grace periods. */
const CLOSER_THREADS = 8;

// Each thread closes the fds it is sent with libc's close(2) (Node's fs.closeSync would warn
// about fds it did not open), synchronously, and answers with the request id.
const CLOSER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const koffi = require(workerData.koffi);
const close = koffi.load('libc.so.6').func('int close(int fd)');
parentPort.on('message', ({ id, fd }) => {
  close(fd);
  parentPort.postMessage(id);
});
`;
const KOFFI_PATH = createRequire(import.meta.url).resolve('koffi');

/**
 * Closes fds on threads of its own. Not on libuv's pool (fs.close): a close blocks its thread for
 * a grace period, and a pool of 4 busy with a session's closes would stall everything else that
 * needs it — the perf reader's poll, child-process plumbing — for seconds.
 */
class LinkCloser {
  readonly #workers: Worker[] = [];
  readonly #waiting = new Map<number, () => void>();
  #nextId = 0;

  close(fd: number): Promise<void> {
    if (this.#workers.length === 0) {
      for (let i = 0; i < CLOSER_THREADS; i++) {
        const worker = new Worker(CLOSER_SOURCE, { eval: true, workerData: { koffi: KOFFI_PATH } });
        worker.on('message', (id: number) => this.#done(id));
        worker.unref();
        this.#workers.push(worker);
      }
    }
    const id = this.#nextId++;
    const worker = this.#workers[id % this.#workers.length]!;
    // Keep the process alive while closes are pending; let it exit when idle.
    if (this.#waiting.size === 0) for (const w of this.#workers) w.ref();
    return new Promise<void>((resolve) => {
      this.#waiting.set(id, resolve);
      worker.postMessage({ id, fd });
    });
  }

  #done(id: number): void {
    const resolve = this.#waiting.get(id);
    this.#waiting.delete(id);
    if (this.#waiting.size === 0) for (const w of this.#workers) w.unref();
    resolve?.();
  }
}

const closer = new LinkCloser();

/** An attached uprobe-multi link with one offset. Dispose it to detach. */
export class UprobeLink implements Disposable {
  #fd: number;
  /** Where it is attached. */
  readonly target: UprobeTarget;

  private constructor(fd: number, target: UprobeTarget) {
    this.#fd = fd;
    this.target = target;
  }

  /**
   * Attaches `programFd` (loaded with expected_attach_type BPF_TRACE_UPROBE_MULTI) at
   * `target`. Throws `UPROBE_LINK_UNSUPPORTED` when the kernel has no uprobe-multi links
   * (EINVAL, EOPNOTSUPP, ENOSYS) and `UPROBE_ATTACH_FAILED` otherwise.
   */
  static attach(programFd: number, target: UprobeTarget): UprobeLink {
    if (!existsSync(target.binaryPath)) {
      throw new GolabError('BINARY_NOT_FOUND', `no such file: ${target.binaryPath}`, {
        hint: 'pass the path of an existing executable',
        exitCode: ExitCode.usage,
      });
    }
    // The kernel reads these through the pointers while the call runs; they live until then.
    const path = Buffer.from(`${target.binaryPath}\0`);
    const offsets = Buffer.alloc(8);
    offsets.writeBigUInt64LE(BigInt(target.fileOffset));
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(programFd, 0); // link_create.prog_fd
    attr.writeUInt32LE(BPF_TRACE_UPROBE_MULTI, 8); // link_create.attach_type
    attr.writeBigUInt64LE(BigInt(koffi.address(path)), 16); // uprobe_multi.path
    attr.writeBigUInt64LE(BigInt(koffi.address(offsets)), 24); // uprobe_multi.offsets
    attr.writeUInt32LE(1, 48); // uprobe_multi.cnt
    attr.writeUInt32LE(target.pid !== undefined && target.pid > 0 ? target.pid : 0, 56); // uprobe_multi.pid (0: all)
    const fd = bpf(BPF_LINK_CREATE, attr);
    if (fd < 0) {
      const code = errno();
      const why = `${strerror(code)} (errno ${code})`;
      if (code === 22 || code === 95 || code === 38) {
        throw new GolabError('UPROBE_LINK_UNSUPPORTED', `this kernel has no uprobe-multi links: ${why}`, {
          hint: 'attach through perf events instead (Linux < 6.6)',
          exitCode: ExitCode.kernelRefused,
        });
      }
      throw new GolabError('UPROBE_ATTACH_FAILED', `cannot link a uprobe to ${target.binaryPath} at file offset 0x${target.fileOffset.toString(16)}: ${why}`, {
        hint: 'run as root (or with CAP_BPF and CAP_PERFMON), and check that the offset is an instruction of the file',
        exitCode: ExitCode.kernelRefused,
      });
    }
    return new UprobeLink(fd, target);
  }

  /** True until disposed. */
  get attached(): boolean {
    return this.#fd >= 0;
  }

  /** Detaches by closing the link (blocks for the kernel's grace period). Idempotent. */
  dispose(): void {
    if (this.#fd < 0) return;
    close(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Detaches on a closer thread; closes on several threads share the kernel's grace periods. */
  async disposeAsync(): Promise<void> {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    await closer.close(fd);
  }
}
