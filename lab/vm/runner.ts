/**
 * Runs one command in a Debian kernel under qemu (through virtme-ng) and returns its exit code
 * and output. What vng does not do, this adds:
 * - a timeout (vng has none) that kills qemu;
 * - retries of boots that die before the command starts (early TCG panics, about one in three);
 * - killing the whole vng/qemu process group on every way out: normal end, timeout, exception,
 *   and SIGINT/SIGTERM/SIGHUP of this process.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { GolabError, ExitCode, tailLines } from '../errors.ts';
import { detectAccel, type AccelChoice } from './accel.ts';
import { attemptState, guestFile, guestScript, GuestFiles, type AttemptState } from './guest.ts';
import { cacheRoot, fetchKernel, type CachedKernel } from './kernels.ts';
import { vngArgs, splitAppend } from './vng.ts';

/** The project's working tree (two levels above this file); writable in the guest by default. */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/** Options of {@link runInVm}. */
export interface VmRunOptions {
  /** A line id (`6.1`, `7`; fetched when not cached) or a kernel from the cache. */
  readonly kernel: string | CachedKernel;
  /** The command and its arguments, run in the guest without a shell. */
  readonly command: readonly string[];
  /** Extra kernel arguments, e.g. `lockdown=integrity`. */
  readonly append?: readonly string[] | string;
  /** Whole-run limit, boots and retries included; default 10 minutes. */
  readonly timeoutMs?: number;
  /** Working directory in the guest; default the project root. */
  readonly cwd?: string;
  /** Added to the guest's environment (which also gets PATH, GOLAB_IN_VM and GOLAB_VM_KERNEL). */
  readonly env?: Readonly<Record<string, string>>;
  /** More host directories the guest may write (the project root and the lab cache always are). */
  readonly rwdirs?: readonly string[];
  /** Guest memory, default `2G`. */
  readonly memory?: string;
  /** Guest CPUs, default 2. */
  readonly cpus?: number;
  /** Boots to try before giving up when the guest dies before the command starts; default 3. */
  readonly maxAttempts?: number;
  /** Copy the guest's output to this process's stdout/stderr as it arrives. */
  readonly stream?: boolean;
  /** Show the kernel console (on stdout), for debugging boots. */
  readonly verbose?: boolean;
  /** Progress lines for humans (boot attempts, retries). */
  readonly onProgress?: (message: string) => void;
}

/** What {@link runInVm} returns. */
export interface VmRunResult {
  /** The guest command's exit status. */
  readonly exitCode: number;
  /** Its standard output (the last attempt's). */
  readonly stdout: string;
  /** Its standard error (the last attempt's), with vng's own messages. */
  readonly stderr: string;
  /** Boots it took (1 unless early boots died). */
  readonly attempts: number;
  /** Wall time of the whole run, retries included. */
  readonly durationMs: number;
  /** The kernel it ran on. */
  readonly kernel: { readonly line: string; readonly release: string };
  /** The accelerator used. */
  readonly accel: AccelChoice;
}

/** The outcome of one boot, as the retry loop sees it. */
export interface BootOutcome {
  /** What the markers say. */
  readonly state: AttemptState;
  /** Output of this boot. */
  readonly stdout: string;
  /** Errors of this boot. */
  readonly stderr: string;
  /** vng's own exit status (255 when the guest wrote none). */
  readonly vngExitCode: number | undefined;
  /** Kernel warnings and worse the guest saw while the command ran. */
  readonly kernelLog?: string;
}

/**
 * The retry policy, separate from qemu so it can be tested with a fake boot: boot until the
 * command has started, at most `maxAttempts` times. A boot that started the command is final,
 * whatever happened next (re-running a command with side effects is the caller's decision).
 */
export async function bootWithRetries(
  boot: (attempt: number) => Promise<BootOutcome>,
  maxAttempts: number,
  onRetry: (attempt: number, outcome: BootOutcome) => void = () => {},
): Promise<{ readonly outcome: BootOutcome; readonly attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    const outcome = await boot(attempt);
    if (outcome.state.kind !== 'boot-failed' || attempt >= maxAttempts) return { outcome, attempts: attempt };
    onRetry(attempt, outcome);
  }
}

/** Environment names copied from the host into the guest unless `env` overrides them. */
const FORWARDED_ENV = ['PATH', 'LANG', 'LC_ALL', 'TERM', 'CI', 'NO_COLOR', 'FORCE_COLOR', 'GOFLAGS', 'GOTOOLCHAIN'];

let runCounter = 0;

/**
 * The guest environment: forwarded host names and every `GOLAB_*` (GOLAB_CACHE included: the cache
 * is shared at the same path), then the VM markers, then the caller's.
 */
export function guestEnv(
  host: NodeJS.ProcessEnv,
  kernel: { readonly line: string; readonly release: string },
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(host)) {
    if (value === undefined) continue;
    if (FORWARDED_ENV.includes(name) || name.startsWith('GOLAB_')) env[name] = value;
  }
  env['GOLAB_IN_VM'] = kernel.line;
  env['GOLAB_VM_KERNEL'] = kernel.release;
  return { ...env, ...extra };
}

function readMarker(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Kills a process group, ignoring one that is already gone. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group has exited
  }
}

const EXIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Runs "$@" with its stdout and stderr on real pipes (see the call site). */
const VNG_WRAPPER = 'exec "$@" < /dev/null > >(exec cat) 2> >(exec cat >&2)';

/**
 * Runs `command` in a VM booted on `kernel` and returns its exit code and output.
 *
 * Throws `VM_TOOL_MISSING` without vng or qemu, `VM_KERNEL_UNAVAILABLE` when the kernel cannot be
 * fetched, `VM_BOOT_FAILED` when every boot died before the command started, `VM_GUEST_DIED`
 * when the guest died during the command, and `VM_TIMEOUT` past `timeoutMs`. In every case no
 * qemu is left running.
 */
export async function runInVm(options: VmRunOptions): Promise<VmRunResult> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => {});
  await requireTools();
  const kernel =
    typeof options.kernel === 'string'
      ? await fetchKernel(options.kernel, { onProgress: progress })
      : options.kernel;
  const accel = detectAccel();
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const deadline = started + timeoutMs;
  const cwd = options.cwd ?? PROJECT_ROOT;

  const runId = `${process.pid}-${++runCounter}-${randomBytes(3).toString('hex')}`;
  const runBase = join(cacheRoot(), 'runs', runId);
  const guestDir = join(runBase, 'guest');
  const hostTmp = join(runBase, 'tmp');
  const name = `golab-vm-${process.pid}-${runCounter}`;

  let current: number | undefined;
  let signalled: NodeJS.Signals | undefined;
  const cleanup = (): void => {
    killGroup(current);
    current = undefined;
    rmSync(runBase, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    signalled = signal;
    cleanup();
    removeHandlers();
    // Re-raise so the process ends (or the next handler runs) as it would have without us.
    process.kill(process.pid, signal);
  };
  const onExit = (): void => cleanup();
  const removeHandlers = (): void => {
    for (const signal of EXIT_SIGNALS) process.removeListener(signal, onSignal);
    process.removeListener('exit', onExit);
  };
  for (const signal of EXIT_SIGNALS) process.on(signal, onSignal);
  process.on('exit', onExit);

  try {
    const boot = async (attempt: number): Promise<BootOutcome> => {
      rmSync(runBase, { recursive: true, force: true });
      mkdirSync(guestDir, { recursive: true });
      mkdirSync(hostTmp, { recursive: true });
      writeFileSync(
        guestFile(guestDir, 'script'),
        guestScript({
          runDir: guestDir,
          cwd,
          command: options.command,
          env: guestEnv(process.env, kernel, options.env),
          home: '/tmp/golab-home',
        }),
        { mode: 0o755 },
      );
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw timeoutError(timeoutMs, '', '');
      progress(`booting ${kernel.release} (${accel.accel}${attempt > 1 ? `, attempt ${attempt}` : ''})`);
      const args = vngArgs({
        vmlinuz: kernel.vmlinuz,
        accel: accel.accel,
        memory: options.memory ?? '2G',
        cpus: options.cpus ?? guestCpus(accel.accel),
        // The whole cache is shared read-write: the kernel tree (modules, headers), this run's
        // directory, and lab/toolchain's build cache (tracee binaries and per-toolchain GOCACHE),
        // so the guest reuses what the host built instead of compiling under TCG.
        rodirs: [],
        rwdirs: [...new Set([cacheRoot(), PROJECT_ROOT, ...(options.rwdirs ?? [])])],
        cwd,
        append: splitAppend(options.append),
        exec: `bash ${guestFile(guestDir, 'script')}`,
        name,
        verbose: options.verbose ?? false,
      });
      // vng refuses stdio it cannot reopen through /proc/self/fd (qemu writes the guest's output
      // to /proc/self/fd/1), and Node's pipes are sockets, which cannot be reopened: bash puts
      // real pipes in between, with a `cat` on each, then execs vng.
      // detached: vng, qemu and the cats get their own process group, so one kill reaches them
      // all, and a terminal's Ctrl-C reaches only us (we then kill the group ourselves).
      const child = execa('bash', ['-c', VNG_WRAPPER, 'golab-vng', 'vng', ...args], {
        cwd: '/',
        detached: true,
        stdin: 'ignore',
        reject: false,
        stripFinalNewline: false,
        env: { TMPDIR: hostTmp }, // vng's ret-file temp lives in the run dir, removed with it
      });
      current = child.pid;
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (options.stream) process.stdout.write(chunk);
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (options.stream) process.stderr.write(chunk);
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child.pid);
      }, remaining);
      try {
        const result = await child;
        if (timedOut) throw timeoutError(timeoutMs, stdout, stderr);
        if (signalled) throw new GolabError('VM_INTERRUPTED', `interrupted by ${signalled}`, { exitCode: ExitCode.interrupted });
        return {
          state: attemptState(readMarker(guestFile(guestDir, 'started')), readMarker(guestFile(guestDir, 'exitCode'))),
          stdout,
          stderr,
          vngExitCode: result.exitCode,
          kernelLog: readMarker(guestFile(guestDir, 'kernelLog')) ?? '',
        };
      } finally {
        clearTimeout(timer);
        killGroup(child.pid); // qemu may outlive vng's python on some exits
        current = undefined;
      }
    };

    const { outcome, attempts } = await bootWithRetries(boot, options.maxAttempts ?? 3, (attempt, failed) =>
      progress(`boot ${attempt} of ${kernel.release} died before the command started (vng exit ${failed.vngExitCode}); retrying`),
    );
    const state = outcome.state;
    if (state.kind === 'boot-failed') {
      throw new GolabError('VM_BOOT_FAILED', `${kernel.release} did not reach the command in ${attempts} boots`, {
        hint: 'run again with --verbose to see the kernel console; check that provision/vm.sh ran (busybox-static, udev, qemu)',
        detail: tailLines(outcome.stderr, 30),
        exitCode: ExitCode.environment,
      });
    }
    if (state.kind === 'died') {
      throw new GolabError('VM_GUEST_DIED', `the guest (${kernel.release}) died while the command ran`, {
        hint: 'run again with --verbose to see the kernel console (a panic or the OOM killer); --memory raises guest RAM',
        detail: [
          tailLines(outcome.stderr, 20),
          `kernel messages (warning and above) until it died:\n${tailLines(outcome.kernelLog || '(none)', 20)}`,
        ]
          .filter((part) => part.trim() !== '')
          .join('\n'),
        exitCode: ExitCode.checkFailed,
      });
    }
    return {
      exitCode: state.exitCode,
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      attempts,
      durationMs: Date.now() - started,
      kernel: { line: kernel.line, release: kernel.release },
      accel,
    };
  } finally {
    cleanup();
    removeHandlers();
  }
}

function timeoutError(timeoutMs: number, stdout: string, stderr: string): GolabError {
  return new GolabError('VM_TIMEOUT', `the VM run took longer than ${Math.round(timeoutMs / 1000)} s and was killed`, {
    hint: 'raise --timeout (under TCG a boot takes 30-120 s and each BCC compile 1-3 min more)',
    detail: tailLines(`${stdout}${stderr}`, 30),
    exitCode: ExitCode.checkFailed,
  });
}

/**
 * The host tools a VM run needs, with the package that brings each. `vng` and qemu are looked up
 * on PATH, as bash (which starts vng) and vng (which runs `shutil.which("qemu-system-x86_64")`)
 * will; the others are found by vng at fixed places.
 */
const TOOLS: readonly { readonly binary: string; readonly paths: readonly string[]; readonly onPath?: boolean; readonly pkg: string }[] = [
  { binary: 'vng', paths: [], onPath: true, pkg: 'virtme-ng/trixie' },
  { binary: 'qemu-system-x86_64', paths: [], onPath: true, pkg: 'qemu-system-x86' },
  { binary: 'busybox (static)', paths: ['/bin/busybox', '/usr/bin/busybox'], pkg: 'busybox-static' },
  { binary: 'udevd', paths: ['/lib/systemd/systemd-udevd', '/usr/lib/systemd/systemd-udevd'], pkg: 'udev' },
];

/** Names the missing host tools, or returns an empty list when a VM can be booted here. */
export function missingTools(env: NodeJS.ProcessEnv = process.env): string[] {
  const pathDirs = (env.PATH ?? '').split(':').filter((dir) => dir !== '');
  const found = (tool: (typeof TOOLS)[number]) =>
    tool.onPath ? pathDirs.some((dir) => existsSync(join(dir, tool.binary))) : tool.paths.some((path) => existsSync(path));
  return TOOLS.filter((tool) => !found(tool)).map((tool) => `${tool.binary} (Debian package ${tool.pkg})`);
}

async function requireTools(): Promise<void> {
  const missing = missingTools();
  if (missing.length > 0) {
    throw new GolabError('VM_TOOL_MISSING', `cannot boot a VM: missing ${missing.join(', ')}`, {
      hint: "run 'sudo provision/vm.sh' (vng and qemu-system-x86_64 must be on PATH)",
      exitCode: ExitCode.environment,
    });
  }
}

export { GuestFiles };

/**
 * vCPUs of a guest unless the caller says: `GOLAB_VM_CPUS`, else 1 under TCG and 2 under KVM.
 *
 * Under multi-threaded TCG (qemu 7.2 here) a guest with two vCPUs ran JIT-compiled code that
 * another vCPU had just rewritten, now and then, stale: node died of SIGSEGV or SIGILL in 3 of 8
 * runs of a wasm-heavy script (V8 patches code from background threads), and iced-x86's wasm
 * hit "RuntimeError: unreachable"; with one vCPU, 8 of 8 runs passed. BCC's compile, the slow
 * part of every guest run, uses one thread anyway.
 */
export function guestCpus(accel: 'kvm' | 'tcg', env: NodeJS.ProcessEnv = process.env): number {
  const wanted = Number(env['GOLAB_VM_CPUS']);
  if (Number.isInteger(wanted) && wanted > 0) return wanted;
  return accel === 'tcg' ? 1 : 2;
}
