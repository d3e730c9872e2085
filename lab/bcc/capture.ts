/**
 * Captures what native code prints on file descriptors 1 and 2 while a synchronous call runs.
 *
 * libbcc reports clang's diagnostics and "Unable to find kernel headers" by printing, not by
 * returning text, so the only way to put them into a thrown error is to redirect the process's
 * own stdout and stderr around the call. No JavaScript runs during a synchronous FFI call, so
 * nothing of Node's own output can be caught by mistake.
 */
import { mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { close, dup, dup2, fflushAll } from './libc.ts';

/** What a captured call returned and printed. */
export interface Captured<T> {
  readonly result: T;
  /** Everything printed on fds 1 and 2, interleaved in order. */
  readonly output: string;
}

/** Runs `call` with fds 1 and 2 redirected to a temporary file, and returns both. */
export function captureNativeOutput<T>(call: () => T): Captured<T> {
  const dir = mkdtempSync(join(tmpdir(), 'golab-capture-'));
  const file = join(dir, 'output');
  const fd = openSync(file, 'w+');
  const savedOut = dup(1);
  const savedErr = dup(2);
  let result: T;
  try {
    fflushAll(null);
    dup2(fd, 1);
    dup2(fd, 2);
    try {
      result = call();
    } finally {
      fflushAll(null);
      dup2(savedOut, 1);
      dup2(savedErr, 2);
    }
  } finally {
    close(savedOut);
    close(savedErr);
    closeSync(fd);
  }
  const output = readFileSync(file, 'utf8');
  rmSync(dir, { recursive: true, force: true });
  return { result, output };
}
