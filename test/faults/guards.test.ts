/**
 * Issue 8, item 3: rewrites are guarded. A rewrite needs --allow-write; golab trace refuses a
 * binary that other processes run unless --pid or --all says which; the README says what a
 * rewrite can break. Real seed processes on a private copy of the Go 1.15 seed.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ElfFile, findFunction } from '../../lab/elf/index.ts';
import { requireCapability } from '../support/capabilities.ts';
import { build } from '../support/tracees.ts';
import { byteInProcess, golab, killAll, printedError, PROJECT_ROOT, start, startGolab, until } from './support.ts';

let scratch: string;
let binary: string;
let entryVaddr: number;
const started = new Set<number>();

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'golab-guards-'));
  binary = join(scratch, 'seed');
  copyFileSync((await build('seed', '1.15')).path, binary);
  entryVaddr = findFunction(ElfFile.open(binary), 'main.ebpfDemo').vaddr;
});

afterAll(() => {
  killAll(started);
  rmSync(scratch, { recursive: true, force: true });
});

/** A seed process of the private copy, waiting for SIGUSR1; killed when the test finishes. */
async function waitingSeed() {
  const seed = start(binary, ['-wait']);
  started.add(seed.pid);
  onTestFinished(() => killAll([seed.pid]));
  await until('the seed to wait', () => seed.stdout().includes('ready pid='));
  return seed;
}

describe('rewrites', () => {
  it('need --allow-write: REWRITE_NOT_ALLOWED, exit 2, and the tracee is not started', async () => {
    const run = await golab(['trace', '--binary', binary, '--func', 'main.ebpfDemo', '--rewrite', 'a1=2021', '--run']);
    expect(run.exitCode, run.stderr).toBe(2);
    const error = printedError(run.stderr);
    expect(error.code).toBe('REWRITE_NOT_ALLOWED');
    expect(error.hint).toContain('--allow-write');
    expect(error.hint).toContain('what a rewrite can break');
    expect(run.stdout).not.toContain('ebpfDemo::');
  });

  it('the README explains what a rewrite can break', () => {
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const section = /<!-- section:rewrite-safety -->([\s\S]*?)<!-- \/section:rewrite-safety -->/.exec(readme)?.[1] ?? '';
    for (const topic of [/restart/i, /another goroutine/i, /same length/i, /\.rodata/, /register/i, /test labs? only/i]) {
      expect(section).toMatch(topic);
    }
  });
});

describe('a binary other processes run', () => {
  it('is refused without --pid or --all: BINARY_IN_USE, exit 2, names the pid and the flags', async () => {
    const seed = await waitingSeed();
    const run = await golab(['trace', '--binary', binary, '--func', 'main.ebpfDemo', '--duration', '1']);
    expect(run.exitCode, run.stderr).toBe(2);
    const error = printedError(run.stderr);
    expect(error.code).toBe('BINARY_IN_USE');
    expect(error.message).toContain(String(seed.pid));
    expect(error.hint).toMatch(/--pid PID.*--all/);
    // Refused before anything was attached.
    expect(byteInProcess(seed.pid, entryVaddr)).not.toBe(0xcc);
  });

  it('is traced with --pid: the call equals the process\'s own printout', async (context) => {
    await requireCapability(context, 'uprobeRead');
    const seed = await waitingSeed();
    const tracer = startGolab(['trace', '--binary', binary, '--func', 'main.ebpfDemo', '--pid', String(seed.pid), '--json']);
    started.add(tracer.pid);
    onTestFinished(() => killAll([tracer.pid]));
    // Every probe, not just the entry's: a call made before its RET probes are in never returns.
    await until('golab to attach every probe', () => tracer.stderr().includes('Ctrl-C to stop'));
    expect(byteInProcess(seed.pid, entryVaddr)).toBe(0xcc);
    process.kill(seed.pid, 'SIGUSR1');
    const ran = await seed.child;
    expect(ran.exitCode).toBe(0);
    const printed = /^ebpfDemo:: a1=(\d+), a2=(true|false) a3=([\d.]+)$/m.exec(String(ran.stdout));
    expect(printed).not.toBeNull();
    await until('the traced call', () => tracer.stdout().includes('"function"'));
    process.kill(tracer.pid, 'SIGINT');
    const result = await tracer.child;
    expect(result.exitCode, tracer.stderr()).toBe(130);
    const calls = tracer
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { pid: number; args: { a1: string; a2: boolean; a3: number } });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.pid).toBe(seed.pid);
    expect(calls[0]!.args.a1).toBe(printed![1]);
    expect(calls[0]!.args.a2).toBe(printed![2] === 'true');
    expect(calls[0]!.args.a3.toFixed(2)).toBe(printed![3]);
  });

  it('is traced with --all', async (context) => {
    await requireCapability(context, 'uprobeRead');
    const seed = await waitingSeed();
    const run = await golab(['trace', '--binary', binary, '--func', 'main.ebpfDemo', '--all', '--duration', '1']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/Trace .* on func \[main\.ebpfDemo\]/);
    expect(byteInProcess(seed.pid, entryVaddr)).not.toBe(0xcc);
  });
});
