/**
 * Running the real `golab` CLI for the fault tests, and reading its error report back.
 *
 * The CLI prints a GolabError as `error [CODE]: message`, then any detail lines, then
 * `hint: …`, and exits with the error's exit code (lab/cli/main.ts); these helpers parse that.
 */
import { fileURLToPath } from 'node:url';
import { execa, type Options } from 'execa';

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
