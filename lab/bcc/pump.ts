/**
 * Waits for BPF output fds to become readable without blocking the event loop, then drains
 * them on the main thread.
 *
 * The wait is one `poll(2)` on a worker thread (a koffi async call); draining is a synchronous
 * libbcc call whose callbacks run on the main thread directly, so no event crosses threads.
 * An eventfd in the poll set wakes the wait at once when the pump stops.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import koffi from 'koffi';
import { close, eventfd, POLLIN, pollAsync, write, type PollFd } from './libc.ts';

const EFD_CLOEXEC = 0o2000000;
/** Upper bound of one wait, so a stuck wait is noticed; stopping does not wait for it. */
const WAIT_MS = 1000;

/** Drains ready fds; called on the main thread after the wait says some fd is readable. */
export type Drain = () => void;

/**
 * How a pump batches. The defaults drain as soon as an fd is readable, as before.
 *
 * Every wakeup of the reader costs the traced thread an irq_work (a self-IPI, dear in a VM)
 * and the reader a poll round trip through koffi's worker thread. A ring buffer wakes its
 * reader only when the reader has caught up, so a reader that lingers after a wakeup before
 * draining is woken once per batch instead of once per event.
 */
export interface PumpOptions {
  /** After the wait says readable, wait this much longer before draining. Default 0. */
  readonly lingerMs?: number;
  /**
   * Drain also when a wait times out after this many ms, for buffers whose kernel side does
   * not wake the reader for every event (perf buffers with `wakeup_events` > 1). Default: off.
   */
  readonly idleDrainMs?: number;
}

/** A running wait-and-drain loop over a set of fds. */
export class EventPump {
  readonly #fds: readonly number[];
  readonly #drain: Drain;
  readonly #wakeFd: number;
  readonly #lingerMs: number;
  readonly #idleDrainMs: number | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #failure: unknown;

  constructor(fds: readonly number[], drain: Drain, options: PumpOptions = {}) {
    this.#fds = fds;
    this.#drain = drain;
    this.#lingerMs = options.lingerMs ?? 0;
    this.#idleDrainMs = options.idleDrainMs;
    this.#wakeFd = eventfd(0, EFD_CLOEXEC);
  }

  /** Starts the loop. Errors thrown by the drain stop it and are rethrown by {@link stop}. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    const pollFds: PollFd[] = [...this.#fds, this.#wakeFd].map((fd) => ({ fd, events: POLLIN, revents: 0 }));
    const wake = pollFds.at(-1)!;
    while (this.#running) {
      for (const p of pollFds) p.revents = 0;
      const ready = await pollAsync(pollFds, this.#idleDrainMs ?? WAIT_MS);
      if (!this.#running) break;
      if (ready > 0 && this.#lingerMs > 0 && wake.revents === 0) {
        await sleep(this.#lingerMs);
        if (!this.#running) break;
      }
      if (ready > 0 || this.#idleDrainMs !== undefined) {
        try {
          this.#drain();
        } catch (error) {
          this.#failure = error;
          this.#running = false;
        }
      }
    }
  }

  /** Stops the loop, drains once more so nothing already produced is lost, and frees the eventfd. */
  async stop(): Promise<void> {
    if (this.#loop === undefined) {
      close(this.#wakeFd);
      return;
    }
    this.#running = false;
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    write(this.#wakeFd, one, 8);
    await this.#loop;
    this.#loop = undefined;
    close(this.#wakeFd);
    if (this.#failure === undefined) this.#drain();
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure !== undefined) throw failure;
  }
}

/**
 * Copies events out of native memory into one reused buffer, so delivering an event allocates
 * nothing. `koffi.view` + `Buffer.from` costs ~5 µs per event here (an external ArrayBuffer is
 * made and then copied); a `memcpy` into a reused buffer ~0.2 µs. Handlers get a view of the
 * event's exact length, valid only during the call (as {@link EventHandler} says).
 */
export class EventCopier {
  readonly #scratch: Buffer;
  /** Views of the scratch buffer by event length: generated programs have few event sizes. */
  readonly #views = new Map<number, Buffer>();

  /** `maxSize`: the largest event expected; larger ones are copied into a fresh buffer. */
  constructor(maxSize = 16384) {
    this.#scratch = Buffer.alloc(maxSize);
  }

  /** The `size` bytes at native address `address`, in a reused buffer. */
  copy(address: bigint, size: number): Buffer {
    if (size > this.#scratch.length) return Buffer.from(koffi.view(address, size));
    let view = this.#views.get(size);
    if (view === undefined) {
      view = this.#scratch.subarray(0, size);
      this.#views.set(size, view);
    }
    memcpy(this.#scratch, address, size);
    return view;
  }
}

const memcpy = koffi.load('libc.so.6').func('void *memcpy(void *dst, void *src, size_t n)') as (dst: Buffer, src: bigint, n: number) => unknown;
