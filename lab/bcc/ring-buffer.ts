/**
 * A `BPF_RINGBUF_OUTPUT` table (Linux 5.8+): one buffer shared by all CPUs, events in order.
 *
 * Records are read from the ring's own mapping ({@link MappedRing}) rather than through
 * libbcc's `bpf_consume_ringbuf`, whose one koffi callback per record cost more than the rest
 * of the event path. libbcc's reader remains the fallback when the mapping is refused.
 */
import koffi from 'koffi';
import { ExitCode, GolabError } from '../errors.ts';
import { callbackTypes, type CPointer, type RegisteredCallback } from './library.ts';
import type { BpfModule } from './module.ts';
import type { EventHandler } from './perf-buffer.ts';
import { MappedRing, type RecordHandler } from './mapped-ring.ts';
import { EventCopier, EventPump, type PumpOptions } from './pump.ts';

/** The reader of one ring buffer table. Start to receive events; dispose to free. */
export class RingBuffer implements AsyncDisposable {
  readonly #reader: MappedReader | LibBccReader;
  readonly #pump: EventPump;
  #freed = false;

  private constructor(reader: MappedReader | LibBccReader, mapFd: number, options: PumpOptions) {
    this.#reader = reader;
    // A ring buffer map fd is itself pollable: readable when records are waiting.
    this.#pump = new EventPump([mapFd], () => reader.drain(), options);
  }

  /**
   * Opens the ring buffer behind `table`. Throws `RING_BUFFER_FAILED` if it cannot be read.
   * `options.lingerMs` batches wakeups (see {@link PumpOptions}): size the ring for that many
   * milliseconds of events. `options.reader` picks the reader; `mapped` (the default) falls
   * back to `libbcc` when the kernel refuses the mapping.
   */
  static open(module: BpfModule, table: string, onEvent: EventHandler, options: RingBufferOptions = {}): RingBuffer {
    const mapFd = module.tableFd(table);
    if ((options.reader ?? 'mapped') === 'mapped') {
      try {
        return new RingBuffer(new MappedReader(MappedRing.map(mapFd), onEvent), mapFd, options);
      } catch (error) {
        if (options.reader === 'mapped') throw error;
      }
    }
    return new RingBuffer(LibBccReader.open(module, table, mapFd, onEvent), mapFd, options);
  }

  /** Which reader this buffer uses. */
  get reader(): 'mapped' | 'libbcc' {
    return this.#reader.kind;
  }

  /** Starts delivering events on the event loop. */
  start(): void {
    this.#pump.start();
  }

  /** Drains synchronously, once. */
  drainNow(): void {
    this.#reader.drain();
  }

  /** Stops delivery after draining, and frees the reader. Idempotent. */
  async stop(): Promise<void> {
    if (this.#freed) return;
    this.#freed = true;
    try {
      await this.#pump.stop();
    } finally {
      this.#reader.free();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Options for {@link RingBuffer.open}. */
export interface RingBufferOptions extends PumpOptions {
  /** `mapped`: read the mapping directly (default, falls back to libbcc); `libbcc`: bpf_consume_ringbuf. */
  readonly reader?: 'mapped' | 'libbcc';
}

/**
 * Reads records from the ring's mapping. Each record is copied into one reused buffer (a view
 * per record length) before the handler sees it: the kernel may reuse the ring's space as soon
 * as the consumer position moves, and decoders keep a DataView of the last buffer they saw,
 * which a fresh subarray per record would defeat.
 */
class MappedReader {
  readonly kind = 'mapped';
  readonly #ring: MappedRing;
  readonly #deliver: RecordHandler;

  constructor(ring: MappedRing, onEvent: EventHandler) {
    this.#ring = ring;
    const scratch = Buffer.alloc(16384);
    const views = new Map<number, Buffer>();
    this.#deliver = (area, offset, size) => {
      if (size > scratch.length) {
        onEvent(Buffer.from(area.subarray(offset, offset + size)));
        return;
      }
      let view = views.get(size);
      if (view === undefined) {
        view = scratch.subarray(0, size);
        views.set(size, view);
      }
      area.copy(scratch, 0, offset, offset + size);
      onEvent(view);
    };
  }

  drain(): void {
    this.#ring.consume(this.#deliver);
  }

  free(): void {
    this.#ring.unmap();
  }
}

/** Reads records through libbcc's ring buffer API, one koffi callback per record. */
class LibBccReader {
  readonly kind = 'libbcc';
  readonly #module: BpfModule;
  readonly #ring: CPointer;
  readonly #callback: RegisteredCallback;

  private constructor(module: BpfModule, ring: CPointer, callback: RegisteredCallback) {
    this.#module = module;
    this.#ring = ring;
    this.#callback = callback;
  }

  static open(module: BpfModule, table: string, mapFd: number, onEvent: EventHandler): LibBccReader {
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
    return new LibBccReader(module, ring, callback);
  }

  drain(): void {
    this.#module.libbcc.fn.bpf_consume_ringbuf(this.#ring);
  }

  free(): void {
    this.#module.libbcc.fn.bpf_free_ringbuf(this.#ring);
    koffi.unregister(this.#callback);
  }
}
