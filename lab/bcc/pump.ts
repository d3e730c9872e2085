/**
 * Waits for BPF output fds to become readable without blocking the event loop, then drains
 * them on the main thread.
 *
 * The wait is one `poll(2)` on a worker thread (a koffi async call); draining is a synchronous
 * libbcc call whose callbacks run on the main thread directly, so no event crosses threads.
 * An eventfd in the poll set wakes the wait at once when the pump stops.
 */
import { close, eventfd, POLLIN, pollAsync, write, type PollFd } from './libc.ts';

const EFD_CLOEXEC = 0o2000000;
/** Upper bound of one wait, so a stuck wait is noticed; stopping does not wait for it. */
const WAIT_MS = 1000;

/** Drains ready fds; called on the main thread after the wait says some fd is readable. */
export type Drain = () => void;

/** A running wait-and-drain loop over a set of fds. */
export class EventPump {
  readonly #fds: readonly number[];
  readonly #drain: Drain;
  readonly #wakeFd: number;
  #running = false;
  #loop: Promise<void> | undefined;
  #failure: unknown;

  constructor(fds: readonly number[], drain: Drain) {
    this.#fds = fds;
    this.#drain = drain;
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
    while (this.#running) {
      for (const p of pollFds) p.revents = 0;
      const ready = await pollAsync(pollFds, WAIT_MS);
      if (!this.#running) break;
      if (ready > 0) {
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
