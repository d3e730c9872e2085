/**
 * The few libc calls the binding needs that Node does not offer: duplicating file descriptors
 * (to capture what libbcc prints on fds 1 and 2), waiting for readiness of perf and ring buffer
 * fds on a worker thread, and an eventfd to wake that wait early.
 */
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

koffi.struct('golab_pollfd', { fd: 'int', events: 'short', revents: 'short' });

/** A `struct pollfd`. */
export interface PollFd {
  fd: number;
  events: number;
  revents: number;
}

/** `poll(2)` event bits. */
export const POLLIN = 0x001;

/** `dup(2)`. */
export const dup = libc.func('int dup(int oldfd)') as (fd: number) => number;
/** `dup2(2)`. */
export const dup2 = libc.func('int dup2(int oldfd, int newfd)') as (oldFd: number, newFd: number) => number;
/** `close(2)`. */
export const close = libc.func('int close(int fd)') as (fd: number) => number;
/** `fflush(NULL)`: flushes C stdio, so text libbcc printed reaches the captured fd. */
export const fflushAll = libc.func('int fflush(void *stream)') as (stream: null) => number;
/** `eventfd(2)`. */
export const eventfd = libc.func('int eventfd(unsigned int initval, int flags)') as (init: number, flags: number) => number;
/** `write(2)` of a buffer. */
export const write = libc.func('long write(int fd, const void *buf, size_t count)') as (
  fd: number,
  buf: Buffer,
  count: number,
) => number;
/** `read(2)` into a buffer. */
export const read = libc.func('long read(int fd, _Out_ void *buf, size_t count)') as (
  fd: number,
  buf: Buffer,
  count: number,
) => number;

const pollFn = libc.func('int poll(_Inout_ golab_pollfd *fds, unsigned long nfds, int timeout)');

/** `poll(2)`, synchronously. Updates `revents` in place. */
export function pollSync(fds: PollFd[], timeoutMs: number): number {
  return pollFn(koffi.as(fds, 'golab_pollfd *'), fds.length, timeoutMs) as number;
}

/**
 * `poll(2)` on a worker thread: the event loop keeps running while the kernel waits.
 * Resolves with poll's return value; `revents` of `fds` is updated.
 */
export function pollAsync(fds: PollFd[], timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    pollFn.async(koffi.as(fds, 'golab_pollfd *'), fds.length, timeoutMs, (error: unknown, result: number) => {
      if (error) reject(error instanceof Error ? error : new Error(String(error)));
      else resolve(result);
    });
  });
}

/** `__NR_bpf` on x86-64. */
const SYS_BPF = 321;
const syscall = libc.func('long syscall(long number, long cmd, void *attr, unsigned int size)') as (
  number: number,
  cmd: number,
  attr: Buffer,
  size: number,
) => number | bigint;

/**
 * The `bpf(2)` system call, for the few commands libbcc does not wrap: `attr` is the command's
 * part of `union bpf_attr`. Returns what the kernel returned (a new fd, 0, or -1 with errno).
 */
export function bpf(cmd: number, attr: Buffer): number {
  return Number(syscall(SYS_BPF, cmd, attr, attr.length));
}

/** The calling thread's errno after the last koffi call. */
export function errno(): number {
  return koffi.errno();
}

/** `strerror(errno)` text for an errno value. */
export const strerror = libc.func('const char *strerror(int errnum)') as (errnum: number) => string;
