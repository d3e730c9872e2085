/**
 * Issue 8, item 2: nothing left behind. The worst cases of a trace: `golab trace --run` stopped
 * with SIGINT (Ctrl-C), with SIGTERM, and killed with SIGKILL in the middle of a trace, while
 * another process of the same binary waits (a path-wide uprobe is planted in it too).
 *
 * What "nothing left" is checked against, before and after:
 * - the waiting process's own code: a uprobe is an int3 (0xCC) written into every process that
 *   maps the file, so the first byte of main.ebpfDemo read through /proc/PID/mem is 0xCC while
 *   golab is attached and the file's byte again once every probe is gone; the process then runs
 *   ebpfDemo and exits 0 (a stray int3 without its uprobe would kill it with SIGTRAP);
 * - the BPF programs golab held (their ids, from its fds' fdinfo): none may exist afterwards
 *   (`bpftool prog show`);
 * - /sys/kernel/tracing/uprobe_events: no event for the binary, none of golab's pid;
 * - processes: neither golab nor the tracee it started (--run) remains; the only process of
 *   the binary is the one the test started, which the test ends.
 *
 * The binary is a private copy of the Go 1.15 seed, so other tests' processes of the cached seed
 * cannot be confused with these.
 */
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ElfFile, findFunction, functionBytes } from '../../lab/elf/index.ts';
import { processesRunning } from '../../lab/probe/processes.ts';
import { requireCapability } from '../support/capabilities.ts';
import { build } from '../support/tracees.ts';
import { alive, byteInProcess, GOLAB_BIN, killAll, start, until } from './support.ts';

const UPROBE_EVENTS = ['/sys/kernel/tracing/uprobe_events', '/sys/kernel/debug/tracing/uprobe_events'];

let scratch: string;
let binary: string;
/** main.ebpfDemo's virtual address (the seed is not PIE) and its first byte in the file. */
let entry: { vaddr: number; byte: number };
/**
 * golab's stdin: a FIFO this file holds open for reading and writing. The --run tracee inherits
 * it and (started with -wait) would take an EOF as its go signal, so it must never see one: it
 * has to stay blocked until something kills it.
 */
let heldStdin: number;
/** Processes this file started; each test kills its own when it finishes, whatever happened. */
const started = new Set<number>();

function killStarted(): void {
  killAll(started);
  started.clear();
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'golab-leftovers-'));
  binary = join(scratch, 'seed');
  copyFileSync((await build('seed', '1.15')).path, binary);
  const elf = ElfFile.open(binary);
  const fn = findFunction(elf, 'main.ebpfDemo');
  entry = { vaddr: fn.vaddr, byte: functionBytes(elf, fn)[0]! };
  expect(entry.byte).not.toBe(0xcc);
  await execa('mkfifo', [join(scratch, 'stdin')]);
  heldStdin = openSync(join(scratch, 'stdin'), 'r+');
});

afterAll(() => {
  killStarted();
  if (heldStdin !== undefined) closeSync(heldStdin);
  rmSync(scratch, { recursive: true, force: true });
});

/** The ids of the BPF programs process `pid` holds fds of. */
function programIdsHeldBy(pid: number): number[] {
  const ids: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf-prog') continue;
      const id = /prog_id:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
      if (id) ids.push(Number(id));
    } catch {
      // Closed meanwhile.
    }
  }
  return ids;
}

/** Every BPF program id the kernel lists now. */
async function loadedProgramIds(): Promise<Set<number>> {
  const { stdout } = await execa('bpftool', ['prog', 'show', '--json']);
  return new Set((JSON.parse(stdout) as { id: number }[]).map((p) => p.id));
}

/** The tracefs uprobe event lines that concern `binary` or golab process `pid`. */
function uprobeEventsFor(path: string, pid: number): string[] {
  const file = UPROBE_EVENTS.find((f) => existsSync(f));
  if (!file) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.includes(path) || line.includes(`golab_${pid}_`));
}

const cases = [
  { how: 'SIGINT (Ctrl-C)', signal: 'SIGINT', exit: { exitCode: 130 } },
  { how: 'SIGTERM', signal: 'SIGTERM', exit: { exitCode: 143 } },
  { how: 'kill -9', signal: 'SIGKILL', exit: { signal: 'SIGKILL' } },
] as const;

describe.each(cases)('golab trace --run stopped by $how mid-trace', ({ signal, exit }) => {
  it('leaves no uprobe, BPF program, tracefs event or process behind', async (context) => {
    await requireCapability(context, 'uprobeRead');
    onTestFinished(killStarted);
    const waiting = start(binary, ['-wait']);
    started.add(waiting.pid);
    await until('the waiting seed', () => waiting.stdout().includes('ready pid='));
    const eventsBefore = uprobeEventsFor(binary, -1);

    // golab's own tracee (--run) waits too: golab's stdin is a pipe nobody writes.
    // sh opens the FIFO as golab's stdin and execs node: the pid is golab's.
    const golab = start('sh', ['-c', 'exec "$@" < "$0"', join(scratch, 'stdin'), process.execPath, GOLAB_BIN, 'trace', '--binary', binary, '--func', 'main.ebpfDemo', '--run', '--', '-wait']);
    started.add(golab.pid);
    await until('golab to attach and start its tracee', () => /ready pid=\d+/.test(golab.stdout()) || !alive(golab.pid));
    const golabErr = golab.stderr;
    const runPid = Number(/ready pid=(\d+)/.exec(golab.stdout())?.[1]);
    expect(runPid, golabErr()).toBeGreaterThan(0);
    started.add(runPid);

    // Mid-trace: the probe is planted in both processes, and golab holds its programs.
    expect(byteInProcess(waiting.pid, entry.vaddr)).toBe(0xcc);
    expect(byteInProcess(runPid, entry.vaddr)).toBe(0xcc);
    const programs = programIdsHeldBy(golab.pid);
    expect(programs.length).toBeGreaterThan(0);
    expect([...(await loadedProgramIds())].filter((id) => programs.includes(id))).toEqual(programs);

    process.kill(golab.pid, signal);
    const result = await golab.child;
    if ('exitCode' in exit) expect(result.exitCode, golabErr()).toBe(exit.exitCode);
    else expect(result.signal).toBe(exit.signal);

    // Nothing left: the int3 is gone from the waiting process, the programs are freed, no
    // tracefs event, and golab's tracee is gone with it. (Freeing is asynchronous: poll.)
    await until('the uprobe to leave the waiting process', () => byteInProcess(waiting.pid, entry.vaddr) === entry.byte, 10_000);
    await until('golab\'s BPF programs to be freed', async () => {
      const loaded = await loadedProgramIds();
      return programs.every((id) => !loaded.has(id));
    }, 10_000);
    expect(uprobeEventsFor(binary, golab.pid)).toEqual(eventsBefore);
    await until('golab\'s tracee to end', () => !alive(runPid), 10_000);
    expect(processesRunning(binary)).toEqual([waiting.pid]);

    // The waiting process runs ebpfDemo unprobed and exits cleanly.
    process.kill(waiting.pid, 'SIGUSR1');
    const done = await waiting.child;
    expect(done.exitCode).toBe(0);
    expect(done.stdout).toContain('ebpfDemo:: a1=100, a2=true a3=66.88');
    expect(processesRunning(binary)).toEqual([]);
    await context.annotate(`golab held BPF programs ${programs.join(',')}; after ${signal}: exit ${result.exitCode ?? result.signal}, none left`);
  });
});
