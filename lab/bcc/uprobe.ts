/**
 * Uprobes attached by binary path and file offset through libbcc.
 *
 * libbcc attaches through the uprobe PMU (`perf_event_open` with the probe's path and offset)
 * where the kernel has one, so the probe lives exactly as long as its perf event fd: a golab
 * killed with SIGKILL leaves nothing attached. Only where the PMU is missing does libbcc fall
 * back to creating a tracefs event; those carry golab's prefix, and {@link removeStaleUprobeEvents}
 * removes the ones a killed run left behind.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ExitCode, GolabError } from '../errors.ts';
import { captureNativeOutput } from './capture.ts';
import { privilegesError } from './permission.ts';
import { BPF_PROBE_ENTRY, loadLibBcc, type LibBcc } from './library.ts';

/** The prefix of every uprobe event name golab creates. */
export const UPROBE_EVENT_PREFIX = 'golab_';

/** Where a uprobe goes. */
export interface UprobeTarget {
  /** The ELF file: an executable or a shared library. */
  readonly binaryPath: string;
  /** The file offset of the instruction to probe (not the virtual address). */
  readonly fileOffset: number;
  /** Only this process (`-1`, the default, means every process that maps the file). */
  readonly pid?: number;
}

let sequence = 0;

/** An attached uprobe. Dispose it to detach. */
export class Uprobe implements Disposable {
  readonly #bcc: LibBcc;
  #perfFd: number;
  /** The event name given to libbcc (unique per process). */
  readonly eventName: string;
  /** Where it is attached. */
  readonly target: UprobeTarget;

  private constructor(bcc: LibBcc, perfFd: number, eventName: string, target: UprobeTarget) {
    this.#bcc = bcc;
    this.#perfFd = perfFd;
    this.eventName = eventName;
    this.target = target;
  }

  /**
   * Attaches the loaded program `programFd` at `target`, with `ref_ctr_offset` 0 (no USDT
   * semaphore). Throws `UPROBE_ATTACH_FAILED` with libbcc's own words.
   */
  static attach(programFd: number, target: UprobeTarget, libbcc: LibBcc = loadLibBcc()): Uprobe {
    if (!existsSync(target.binaryPath)) {
      throw new GolabError('BINARY_NOT_FOUND', `no such file: ${target.binaryPath}`, {
        hint: 'pass the path of an existing executable',
        exitCode: ExitCode.usage,
      });
    }
    const eventName = `${UPROBE_EVENT_PREFIX}${process.pid}_${sequence++}_${target.fileOffset.toString(16)}`;
    const { result: fd, output } = captureNativeOutput(() =>
      libbcc.fn.bpf_attach_uprobe(
        programFd,
        BPF_PROBE_ENTRY,
        eventName,
        target.binaryPath,
        BigInt(target.fileOffset),
        target.pid ?? -1,
        0,
      ),
    );
    if (fd < 0) {
      const denied = privilegesError(`cannot attach a uprobe to ${target.binaryPath}`, output, 'uprobe');
      if (denied) throw denied;
      throw new GolabError(
        'UPROBE_ATTACH_FAILED',
        `cannot attach a uprobe to ${target.binaryPath} at file offset 0x${target.fileOffset.toString(16)}`,
        {
          detail: output.trim() || undefined,
          hint: 'run as root (or with CAP_BPF and CAP_PERFMON), and check that the offset is an instruction of the file',
          exitCode: ExitCode.kernelRefused,
        },
      );
    }
    return new Uprobe(libbcc, fd, eventName, target);
  }

  /** True until {@link dispose}. */
  get attached(): boolean {
    return this.#perfFd >= 0;
  }

  /** Detaches: closes the perf event and removes any tracefs event libbcc made. Idempotent. */
  dispose(): void {
    if (this.#perfFd < 0) return;
    const fd = this.#perfFd;
    this.#perfFd = -1;
    captureNativeOutput(() => {
      this.#bcc.fn.bpf_close_perf_event_fd(fd);
      // A probe made through the uprobe PMU has no tracefs event and is gone with its fd; asking
      // libbcc to remove a tracefs event that does not exist costs ~0.1 s per probe.
      if (listedUprobeEvents().has(this.eventName)) this.#bcc.fn.bpf_detach_uprobe(this.eventName);
    });
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Detaches on a worker thread. The kernel waits for in-flight probe hits to finish when a
   * uprobe goes (~0.1 s each here), so sessions with many probes detach them concurrently.
   */
  async disposeAsync(): Promise<void> {
    if (this.#perfFd < 0) return;
    const fd = this.#perfFd;
    this.#perfFd = -1;
    await this.#bcc.fn.bpf_close_perf_event_fd_async(fd);
    if (listedUprobeEvents().has(this.eventName)) captureNativeOutput(() => this.#bcc.fn.bpf_detach_uprobe(this.eventName));
  }
}

/** Where the kernel lists tracefs uprobe events. */
const UPROBE_EVENTS_FILES = ['/sys/kernel/tracing/uprobe_events', '/sys/kernel/debug/tracing/uprobe_events'];

/** The names of the tracefs uprobe events that exist now (empty without tracefs). */
export function listedUprobeEvents(): Set<string> {
  const file = UPROBE_EVENTS_FILES.find((f) => existsSync(f));
  const names = new Set<string>();
  if (!file) return names;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^[pr]:\w+\/(\S+)/.exec(line);
    if (match) names.add(match[1]!);
  }
  return names;
}

/**
 * Removes tracefs uprobe events golab created in processes that no longer exist (a run killed
 * with SIGKILL while libbcc had to fall back to tracefs). Returns the names removed.
 */
export function removeStaleUprobeEvents(): string[] {
  const file = UPROBE_EVENTS_FILES.find((f) => existsSync(f));
  if (!file) return [];
  const removed: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    // Lines look like: p:uprobes/golab_1234_0_4a2b /path:0x4a2b
    const match = /^[pr]:(\w+)\/(\S+)/.exec(line);
    if (!match) continue;
    const [, group, name] = match;
    const owner = new RegExp(`^${UPROBE_EVENT_PREFIX}(\\d+)_`).exec(name ?? '');
    if (!owner || existsSync(`/proc/${owner[1]}`)) continue;
    try {
      writeFileSync(file, `-:${group}/${name}\n`, { flag: 'a' });
      removed.push(name ?? '');
    } catch {
      // Still in use by a perf event someone else holds; leave it.
    }
  }
  return removed;
}
