/**
 * A `BPF_RINGBUF_OUTPUT` table (Linux 5.8+): one buffer shared by all CPUs, events in order.
 */
import koffi from 'koffi';
import { ExitCode, GolabError } from '../errors.ts';
import { callbackTypes, type CPointer, type RegisteredCallback } from './library.ts';
import type { BpfModule } from './module.ts';
import type { EventHandler } from './perf-buffer.ts';
import { EventCopier, EventPump, type PumpOptions } from './pump.ts';

/** The reader of one ring buffer table. Start to receive events; dispose to free. */
export class RingBuffer implements AsyncDisposable {
  readonly #module: BpfModule;
  readonly #ring: CPointer;
  readonly #callback: RegisteredCallback;
  readonly #pump: EventPump;
  #freed = false;

  private constructor(module: BpfModule, ring: CPointer, callback: RegisteredCallback, mapFd: number, options: PumpOptions) {
    this.#module = module;
    this.#ring = ring;
    this.#callback = callback;
    // A ring buffer map fd is itself pollable: readable when records are waiting.
    this.#pump = new EventPump([mapFd], () => void module.libbcc.fn.bpf_consume_ringbuf(ring), options);
  }

  /**
   * Opens the ring buffer behind `table`. Throws `RING_BUFFER_FAILED` if libbcc cannot.
   * `options.lingerMs` batches wakeups (see {@link PumpOptions}): size the ring for that many
   * milliseconds of events.
   */
  static open(module: BpfModule, table: string, onEvent: EventHandler, options: PumpOptions = {}): RingBuffer {
    const mapFd = module.tableFd(table);
    const copier = new EventCopier();
    const callback = koffi.register((_ctx: CPointer, data: bigint, size: bigint | number) => {
      onEvent(copier.copy(data, Number(size)));
      return 0;
    }, callbackTypes.ringSample);
    const ring = module.libbcc.fn.bpf_new_ringbuf(mapFd, callback, null);
    if (ring === null || ring === 0n) {
      koffi.unregister(callback);
      throw new GolabError('RING_BUFFER_FAILED', `cannot open ring buffer '${table}'`, {
        hint: `declare '${table}' with BPF_RINGBUF_OUTPUT; ring buffers need Linux 5.8 or later`,
        exitCode: ExitCode.kernelRefused,
      });
    }
    return new RingBuffer(module, ring, callback, mapFd, options);
  }

  /** Starts delivering events on the event loop. */
  start(): void {
    this.#pump.start();
  }

  /** Drains synchronously, once. */
  drainNow(): void {
    this.#module.libbcc.fn.bpf_consume_ringbuf(this.#ring);
  }

  /** Stops delivery after draining, and frees the reader. Idempotent. */
  async stop(): Promise<void> {
    if (this.#freed) return;
    this.#freed = true;
    try {
      await this.#pump.stop();
    } finally {
      this.#module.libbcc.fn.bpf_free_ringbuf(this.#ring);
      koffi.unregister(this.#callback);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
