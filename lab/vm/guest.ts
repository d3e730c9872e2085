/**
 * The script the guest runs, and the files it leaves for the host. The script is written into
 * the run directory (shared read-write) rather than passed on the kernel command line, which is
 * limited to 2 KiB on x86; vng only carries `bash <run>/guest.sh`.
 *
 * Its first act is to write the `started` marker: a run directory without it after qemu exits
 * means the boot died before the command began (an early panic, about one TCG boot in three),
 * which is safe to retry. Its last act is to write `exit-code`; `started` without `exit-code`
 * means the guest died during the command, which is not retried.
 */
import { join } from 'node:path';

/** File names in the guest-visible run directory. */
export const GuestFiles = {
  script: 'guest.sh',
  started: 'started',
  exitCode: 'exit-code',
  /** Kernel messages at warning level and above, followed while the command runs. */
  kernelLog: 'kernel.log',
} as const;

/** What the guest script needs. */
export interface GuestScriptOptions {
  /** Host path of the run directory; the guest sees it at the same path. */
  readonly runDir: string;
  /** Working directory of the command in the guest. */
  readonly cwd: string;
  /** The command and its arguments. */
  readonly command: readonly string[];
  /** Environment of the command (the guest's init starts with almost none). */
  readonly env: Readonly<Record<string, string>>;
  /** Writable home for tools that cache (npm, go); must be on a writable guest path. */
  readonly home: string;
}

/** Quotes a word for bash: single quotes, with embedded single quotes closed and escaped. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** True for a name bash accepts as an environment variable. */
export function isEnvName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/** The bash script the guest runs. */
export function guestScript(options: GuestScriptOptions): string {
  const runDir = shellQuote(options.runDir);
  const exports = Object.entries(options.env)
    .filter(([name]) => isEnvName(name))
    .map(([name, value]) => `export ${name}=${shellQuote(value)}`);
  return [
    '#!/bin/bash',
    '# Written by go-ebpf-lab (lab/vm/guest.ts) for one VM run; runs inside the guest.',
    `uname -r > ${runDir}/${GuestFiles.started}`,
    '',
    '# virtme-init mounts these; BCC needs tracefs to detach uprobes and securityfs shows lockdown.',
    'ensure_mount() { grep -qs " $2 " /proc/mounts || mount -t "$1" "$1" "$2" 2>/dev/null; }',
    'ensure_mount tracefs /sys/kernel/tracing',
    'ensure_mount debugfs /sys/kernel/debug',
    'ensure_mount securityfs /sys/kernel/security',
    'ensure_mount bpf /sys/fs/bpf',
    '# Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK.',
    'ulimit -l unlimited 2>/dev/null',
    '# If the guest dies mid-command (panic, OOM), the host reports what the kernel said last.',
    `dmesg --follow --level=emerg,alert,crit,err,warn > ${runDir}/${GuestFiles.kernelLog} 2>/dev/null &`,
    'kernel_log_pid=$!',
    '',
    `mkdir -p ${shellQuote(options.home)}`,
    `export HOME=${shellQuote(options.home)}`,
    ...exports,
    '',
    `cd ${shellQuote(options.cwd)} || exit 125`,
    options.command.map(shellQuote).join(' '),
    'code=$?',
    'kill "$kernel_log_pid" 2>/dev/null',
    `echo "$code" > ${runDir}/${GuestFiles.exitCode}.partial && mv ${runDir}/${GuestFiles.exitCode}.partial ${runDir}/${GuestFiles.exitCode}`,
    'sync',
    'exit "$code"',
    '',
  ].join('\n');
}

/** What the run directory says about an attempt after qemu is gone. */
export type AttemptState =
  /** The command ran to its end; `exitCode` is its status. */
  | { readonly kind: 'finished'; readonly exitCode: number }
  /** The guest never started the command: the boot failed, retrying is safe. */
  | { readonly kind: 'boot-failed' }
  /** The command started but the guest died (panic, OOM, kill) before it ended. */
  | { readonly kind: 'died' };

/** Reads the markers: `started` and `exit-code` contents, undefined when a file is absent. */
export function attemptState(started: string | undefined, exitCode: string | undefined): AttemptState {
  if (exitCode !== undefined && /^\d+\s*$/.test(exitCode)) return { kind: 'finished', exitCode: Number(exitCode.trim()) };
  return started === undefined ? { kind: 'boot-failed' } : { kind: 'died' };
}

/** Host path of a run-directory file. */
export function guestFile(runDir: string, name: keyof typeof GuestFiles): string {
  return join(runDir, GuestFiles[name]);
}
