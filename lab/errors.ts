/**
 * Typed errors shared by every lab package.
 *
 * Each error carries a stable {@link GolabError.code}, a message that says what went wrong,
 * a {@link GolabError.hint} that names the fix, and the process exit code the CLI uses for it.
 * The README's "Errors" table lists the codes and exit codes; keep the two in step.
 */

/** Exit codes of the `golab` CLI, by class of failure. */
export const ExitCode = {
  /** Success. */
  ok: 0,
  /** A check failed: a matrix cell failed, or a trace lost events. */
  checkFailed: 1,
  /** The user's input is wrong: a path, a flag, a function name. */
  usage: 2,
  /** The binary cannot be used: not ELF, wrong architecture, truncated, stripped of what is needed. */
  badBinary: 3,
  /** The host lacks something: libbcc, kernel headers, privileges, a toolchain, qemu. */
  environment: 4,
  /** The kernel refused: a verifier rejection, lockdown, an attach failure. */
  kernelRefused: 5,
  /** BCC failed to compile the generated program. */
  compile: 6,
  /** Interrupted by SIGINT or SIGTERM (128 + signal number for SIGINT). */
  interrupted: 130,
} as const;

/** A value of {@link ExitCode}. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Options for {@link GolabError}. */
export interface GolabErrorOptions {
  /** What the user should do about it. Printed after the message. */
  hint?: string;
  /** Exit code for the CLI; defaults by code prefix. */
  exitCode?: ExitCodeValue;
  /** The underlying error, if any. */
  cause?: unknown;
  /** Extra text such as clang diagnostics or the verifier log. */
  detail?: string;
}

/** The base class of every error this project throws on purpose. */
export class GolabError extends Error {
  /** A stable, grep-able identifier such as `ELF_NOT_ELF`. */
  readonly code: string;
  /** The fix, in one sentence. */
  readonly hint: string | undefined;
  /** The CLI exit code. */
  readonly exitCode: ExitCodeValue;
  /** Long diagnostic text (compiler output, verifier log), already shortened. */
  readonly detail: string | undefined;

  constructor(code: string, message: string, options: GolabErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.environment;
    this.detail = options.detail;
  }

  /** The message, the detail and the hint, as the CLI prints them. */
  describe(): string {
    const parts = [`error [${this.code}]: ${this.message}`];
    if (this.detail) parts.push(this.detail.trimEnd());
    if (this.hint) parts.push(`hint: ${this.hint}`);
    return parts.join('\n');
  }
}

/** True when `error` is a {@link GolabError} with the given code. */
export function isGolabError(error: unknown, code?: string): error is GolabError {
  return error instanceof GolabError && (code === undefined || error.code === code);
}

/** Keeps the last `maxLines` lines of a long log, marking what was cut. */
export function tailLines(text: string, maxLines: number): string {
  const lines = text.trimEnd().split('\n');
  if (lines.length <= maxLines) return lines.join('\n');
  return [`… (${lines.length - maxLines} earlier lines cut)`, ...lines.slice(-maxLines)].join('\n');
}
