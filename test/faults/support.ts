/**
 * Running the real `golab` CLI for the fault tests, and reading its error report back.
 *
 * The CLI prints a GolabError as `error [CODE]: message`, then any detail lines, then
 * `hint: …`, and exits with the error's exit code (lab/cli/main.ts); these helpers parse that.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa, type Options, type ResultPromise } from 'execa';

/** The project root: bin/golab.mjs lives there. */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The CLI's entry point. */
export const GOLAB_BIN = `${PROJECT_ROOT}bin/golab.mjs`;

/** What one CLI run produced. */
export interface CliRun {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node bin/golab.mjs ...args` to completion; never throws on a non-zero exit. */
export async function golab(args: readonly string[], options: Options & { prefix?: readonly string[] } = {}): Promise<CliRun> {
  const { prefix = [], ...rest } = options;
  const command = [...prefix, process.execPath, GOLAB_BIN, ...args];
  const result = await execa(command[0]!, command.slice(1), { cwd: PROJECT_ROOT, reject: false, timeout: 180_000, stdin: 'ignore', ...rest });
  return {
    exitCode: result.exitCode,
    signal: result.signal ?? undefined,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
  };
}

/** A GolabError as the CLI printed it. */
export interface PrintedError {
  readonly code: string;
  readonly message: string;
  /** Lines between the message and the hint (compiler output, verifier log). */
  readonly detail: string;
  readonly hint: string;
}

/** Parses the CLI's error report from stderr; throws if there is none (so a test shows stderr). */
export function printedError(stderr: string): PrintedError {
  const lines = stderr.split('\n');
  const start = lines.findIndex((line) => /^error \[[A-Z0-9_]+\]: /.test(line));
  if (start < 0) throw new Error(`no 'error [CODE]: …' line in stderr:\n${stderr}`);
  const [, code = '', message = ''] = /^error \[([A-Z0-9_]+)\]: (.*)$/.exec(lines[start]!) ?? [];
  const hintAt = lines.findIndex((line, i) => i > start && line.startsWith('hint: '));
  const end = hintAt < 0 ? lines.length : hintAt;
  return {
    code,
    message,
    detail: lines.slice(start + 1, end).join('\n').trim(),
    hint: hintAt < 0 ? '' : lines[hintAt]!.slice('hint: '.length),
  };
}

/** The byte at `vaddr` in process `pid`'s memory: 0xCC where a uprobe is planted. */
export function byteInProcess(pid: number, vaddr: number): number {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const buffer = Buffer.alloc(1);
    readSync(fd, buffer, 0, 1, vaddr);
    return buffer[0]!;
  } finally {
    closeSync(fd);
  }
}

/** True while `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Polls `check` every 100 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A started process whose output is collected as it comes. */
export interface Started {
  readonly child: ResultPromise;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
}

/**
 * Starts `file args` with stdin a pipe that stays open (a seed started with -wait would take an
 * EOF as its go signal) and collects its output.
 */
export function start(file: string, args: readonly string[], options: Options = {}): Started {
  let out = '';
  let err = '';
  const child = execa(file, args, { cwd: PROJECT_ROOT, reject: false, stdin: 'pipe', timeout: 120_000, ...options });
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return { child, pid: child.pid!, stdout: () => out, stderr: () => err };
}

/** Starts `node bin/golab.mjs ...args` in the background (see {@link start}). */
export function startGolab(args: readonly string[], options: Options = {}): Started {
  return start(process.execPath, [GOLAB_BIN, ...args], options);
}

/** Sends SIGKILL to each pid that still exists. */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
