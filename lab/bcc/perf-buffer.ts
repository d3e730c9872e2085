/**
 * Per-CPU perf buffers behind a `BPF_PERF_OUTPUT` table, read without blocking the event loop.
 */
import koffi from 'koffi';
import { ExitCode, GolabError } from '../errors.ts';
import { onlineCpus } from './cpus.ts';
import { callbackTypes, type CPointer, type RegisteredCallback } from './library.ts';
import type { BpfModule } from './module.ts';
import { EventCopier, EventPump } from './pump.ts';

/** Called with each event's bytes. The buffer is only valid during the call: copy what you keep. */
export type EventHandler = (data: Buffer) => void;

/** Options for {@link PerfBuffer.open}. */
export interface PerfBufferOptions {
  /** Pages per CPU; a power of two. Default 64. */
  readonly pageCount?: number;
  /**
   * Wake the reader only every N events (bcc ≥ 0.24; ignored before). Default 1. Larger values
   * cut wakeups on hot functions; {@link PerfBuffer.stop} drains what is left.
   */
  readonly wakeupEvents?: number;
  /** Called with the number of events the kernel dropped because the buffer was full. */
  readonly onLost?: (count: number) => void;
  /**
   * With `wakeupEvents` > 1, also drain every this many ms, so the last events of a burst do
   * not wait for {@link PerfBuffer.stop}. Default 50 when `wakeupEvents` > 1.
   */
  readonly idleDrainMs?: number;
}

/** How often a perf buffer that is not woken per event is drained anyway, by default. */
const DEFAULT_IDLE_DRAIN_MS = 50;

/** The readers of one perf output table. Start to receive events; dispose to free. */
export class PerfBuffer implements AsyncDisposable {
  readonly #module: BpfModule;
  readonly #readers: bigint[];
  readonly #callbacks: RegisteredCallback[];
  readonly #pump: EventPump;
  #lost = 0;
  #freed = false;

  private constructor(module: BpfModule, readers: bigint[], callbacks: RegisteredCallback[], idleDrainMs: number | undefined) {
    this.#module = module;
    this.#readers = readers;
    this.#callbacks = callbacks;
    const fn = module.libbcc.fn;
    const fds = readers.map((r) => fn.perf_reader_fd(r));
    const drain = fn.perf_reader_consume
      ? () => void fn.perf_reader_consume?.(readers.length, readers)
      : () => void fn.perf_reader_poll(readers.length, readers, 0);
    this.#pump = new EventPump(fds, drain, idleDrainMs === undefined ? {} : { idleDrainMs });
  }

  /**
   * Opens one reader per online CPU and registers each in the table, as bcc's Python
   * `open_perf_buffer` does. Throws `PERF_BUFFER_FAILED` when the kernel refuses one.
   */
  static open(module: BpfModule, table: string, onEvent: EventHandler, options: PerfBufferOptions = {}): PerfBuffer {
    const pageCount = options.pageCount ?? 64;
    if (pageCount <= 0 || (pageCount & (pageCount - 1)) !== 0) {
      throw new GolabError('PERF_BUFFER_PAGES', `perf buffer page count ${pageCount} is not a power of two`, {
        hint: 'use 8, 16, 64, 256 …',
        exitCode: ExitCode.usage,
      });
    }
    const mapFd = module.tableFd(table);
    const fn = module.libbcc.fn;
    const buffer: { instance?: PerfBuffer } = {};
    const copier = new EventCopier();
    const raw = koffi.register((_cookie: CPointer, data: bigint, size: number) => {
      onEvent(copier.copy(data, size));
    }, callbackTypes.perfRaw);
    const lost = koffi.register((_cookie: CPointer, count: bigint | number) => {
      const n = Number(count);
      if (buffer.instance) buffer.instance.#lost += n;
      options.onLost?.(n);
    }, callbackTypes.perfLost);
    const readers: bigint[] = [];
    const free = () => {
      for (const r of readers) fn.perf_reader_free(r);
      koffi.unregister(raw);
      koffi.unregister(lost);
    };
    try {
      for (const cpu of onlineCpus()) {
        const reader = fn.bpf_open_perf_buffer_opts
          ? fn.bpf_open_perf_buffer_opts(raw, lost, null, pageCount, { pid: -1, cpu, wakeup_events: options.wakeupEvents ?? 1 })
          : fn.bpf_open_perf_buffer(raw, lost, null, -1, cpu, pageCount);
        if (reader === null || reader === 0n) {
          throw new GolabError('PERF_BUFFER_FAILED', `cannot open a perf buffer on CPU ${cpu}`, {
            hint: 'run as root (or with CAP_PERFMON), and check ulimit -l for locked memory',
            exitCode: ExitCode.kernelRefused,
          });
        }
        readers.push(reader);
        const key = Buffer.alloc(4);
        key.writeInt32LE(cpu);
        const value = Buffer.alloc(4);
        value.writeInt32LE(fn.perf_reader_fd(reader));
        if (fn.bpf_update_elem(mapFd, key, value, 0n) !== 0) {
          throw new GolabError('PERF_BUFFER_FAILED', `cannot register the perf buffer of CPU ${cpu} in table '${table}'`, {
            hint: `declare '${table}' with BPF_PERF_OUTPUT`,
            exitCode: ExitCode.usage,
          });
        }
      }
    } catch (error) {
      free();
      throw error;
    }
    const batched = fn.bpf_open_perf_buffer_opts !== undefined && (options.wakeupEvents ?? 1) > 1;
    const idleDrainMs = options.idleDrainMs ?? (batched ? DEFAULT_IDLE_DRAIN_MS : undefined);
    const instance = new PerfBuffer(module, readers, [raw, lost], idleDrainMs);
    buffer.instance = instance;
    return instance;
  }

  /** Events the kernel dropped so far. */
  get lost(): number {
    return this.#lost;
  }

  /** Starts delivering events on the event loop. */
  start(): void {
    this.#pump.start();
  }

  /** Drains synchronously, once: for callers that run their own loop. */
  drainNow(): void {
    const fn = this.#module.libbcc.fn;
    if (fn.perf_reader_consume) fn.perf_reader_consume(this.#readers.length, this.#readers);
    else fn.perf_reader_poll(this.#readers.length, this.#readers, 0);
  }

  /** Stops delivery after draining what is buffered, and frees the readers. Idempotent. */
  async stop(): Promise<void> {
    if (this.#freed) return;
    this.#freed = true;
    try {
      await this.#pump.stop();
    } finally {
      const fn = this.#module.libbcc.fn;
      for (const r of this.#readers) fn.perf_reader_free(r);
      for (const cb of this.#callbacks) koffi.unregister(cb);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
