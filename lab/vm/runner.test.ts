import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseAccel, cpuinfoHasVirtualization } from './accel.ts';
import { attemptState, guestScript, shellQuote } from './guest.ts';
import { bootWithRetries, guestCpus, guestEnv, type BootOutcome } from './runner.ts';
import { formatSuiteResults, parseTargets, parseVitestJson } from './suite.ts';
import { splitAppend, vngArgs } from './vng.ts';

const outcome = (state: BootOutcome['state']): BootOutcome => ({ state, stdout: '', stderr: '', vngExitCode: 255 });

describe('boot retries', () => {
  it('retries boots that died before the command started, then returns the finished one', async () => {
    const states: BootOutcome['state'][] = [{ kind: 'boot-failed' }, { kind: 'boot-failed' }, { kind: 'finished', exitCode: 3 }];
    const retried: number[] = [];
    const result = await bootWithRetries(async (attempt) => outcome(states[attempt - 1]!), 3, (attempt) => retried.push(attempt));
    expect(result.attempts).toBe(3);
    expect(result.outcome.state).toEqual({ kind: 'finished', exitCode: 3 });
    expect(retried).toEqual([1, 2]);
  });

  it('stops after maxAttempts and returns the last failed boot', async () => {
    let boots = 0;
    const result = await bootWithRetries(async () => (boots++, outcome({ kind: 'boot-failed' })), 2);
    expect(boots).toBe(2);
    expect(result).toEqual({ outcome: outcome({ kind: 'boot-failed' }), attempts: 2 });
  });

  it('never re-runs a command that started, even if the guest died', async () => {
    let boots = 0;
    const result = await bootWithRetries(async () => (boots++, outcome({ kind: 'died' })), 3);
    expect(boots).toBe(1);
    expect(result.outcome.state.kind).toBe('died');
  });

  it('lets exceptions (timeouts) through without retrying', async () => {
    let boots = 0;
    await expect(
      bootWithRetries(async () => {
        boots++;
        throw new Error('timeout');
      }, 3),
    ).rejects.toThrow('timeout');
    expect(boots).toBe(1);
  });
});

describe('attempt state from the markers', () => {
  it('tells finished, boot-failed and died apart', () => {
    expect(attemptState('6.1.0-56-amd64\n', '0\n')).toEqual({ kind: 'finished', exitCode: 0 });
    expect(attemptState('x', '42')).toEqual({ kind: 'finished', exitCode: 42 });
    expect(attemptState(undefined, undefined)).toEqual({ kind: 'boot-failed' });
    expect(attemptState('x', undefined)).toEqual({ kind: 'died' });
    expect(attemptState('x', '')).toEqual({ kind: 'died' });
  });
});

describe('vng command line', () => {
  const base = {
    vmlinuz: '/c/kernels/6.1/root/boot/vmlinuz-6.1.0-56-amd64',
    memory: '2G',
    cpus: 2,
    rodirs: ['/c/kernels/6.1'],
    rwdirs: ['/c/runs/1/guest', '/work/main'],
    cwd: '/work/main',
    append: ['lockdown=integrity'],
    exec: 'bash /c/runs/1/guest/guest.sh',
    name: 'golab-vm-1-1',
  };

  it('disables KVM under TCG and shares directories as guest=host', () => {
    expect(vngArgs({ ...base, accel: 'tcg' })).toEqual([
      '--run', base.vmlinuz, '--name', 'golab-vm-1-1', '--memory', '2G', '--cpus', '2', '--force-9p', '--disable-kvm',
      '--rwdir', '/c/runs/1/guest=/c/runs/1/guest', '--rwdir', '/work/main=/work/main',
      '--rodir', '/c/kernels/6.1=/c/kernels/6.1', '--cwd', '/work/main',
      '--append', 'lockdown=integrity', '--exec', 'bash /c/runs/1/guest/guest.sh',
    ]); // prettier-ignore
  });

  it('keeps KVM when chosen and shows the console when verbose', () => {
    const args = vngArgs({ ...base, accel: 'kvm', append: [], verbose: true });
    expect(args).not.toContain('--disable-kvm');
    expect(args).not.toContain('--append');
    expect(args).toContain('--verbose');
  });

  it('splits appended kernel arguments', () => {
    expect(splitAppend(['lockdown=integrity nokaslr', 'quiet'])).toEqual(['lockdown=integrity', 'nokaslr', 'quiet']);
    expect(splitAppend('a  b')).toEqual(['a', 'b']);
    expect(splitAppend(undefined)).toEqual([]);
  });
});

describe('accelerator choice', () => {
  it('uses TCG when /dev/kvm exists without vmx/svm (this project’s Firecracker hosts)', () => {
    expect(chooseAccel({ cpuHasVirtualization: false, kvmAccessible: true }).accel).toBe('tcg');
    expect(chooseAccel({ cpuHasVirtualization: true, kvmAccessible: false }).accel).toBe('tcg');
    expect(chooseAccel({ cpuHasVirtualization: true, kvmAccessible: true }).accel).toBe('kvm');
    expect(chooseAccel({ cpuHasVirtualization: true, kvmAccessible: true, override: 'tcg' }).accel).toBe('tcg');
  });

  it('reads the flag line of /proc/cpuinfo', () => {
    expect(cpuinfoHasVirtualization('processor\t: 0\nflags\t\t: fpu vme de pse vmx sse\n')).toBe(true);
    expect(cpuinfoHasVirtualization('flags\t\t: fpu svm\n')).toBe(true);
    expect(cpuinfoHasVirtualization('flags\t\t: fpu vme de pse sse\nvmx flags\t: ept\n')).toBe(false);
  });
});

describe('guest environment', () => {
  it('forwards PATH and GOLAB_*, marks the VM, and lets the caller override', () => {
    const env = guestEnv(
      { PATH: '/usr/bin', HOME: '/root', GOLAB_CACHE: '/c', GOLAB_DEBUG: '1', SECRET: 'x' },
      { line: '6.1', release: '6.1.0-56-amd64' },
      { GOLAB_DEBUG: '2' },
    );
    expect(env).toEqual({
      PATH: '/usr/bin',
      GOLAB_CACHE: '/c',
      GOLAB_DEBUG: '2',
      GOLAB_IN_VM: '6.1',
      GOLAB_VM_KERNEL: '6.1.0-56-amd64',
    });
  });
});

describe('guest script', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('quotes words bash would split or expand', () => {
    expect(shellQuote('uname')).toBe('uname');
    expect(shellQuote("it's $HOME")).toBe(`'it'\\''s $HOME'`);
  });

  it('writes the start marker, runs the command with its env and cwd, and records the exit code', () => {
    // Run the real script with bash on the host: only the mounts differ from the guest, and
    // those are best-effort there too.
    dir = mkdtempSync(join(tmpdir(), 'golab-guest-'));
    const script = guestScript({
      runDir: dir,
      cwd: dir,
      command: ['bash', '-c', 'printf "%s|%s|%s" "$PWD" "$GOLAB_IN_VM" "$1" > out; exit 7', 'arg0', "it's"],
      env: { GOLAB_IN_VM: '6.1', 'BAD-NAME': 'dropped' },
      home: join(dir, 'home'),
    });
    writeFileSync(join(dir, 'guest.sh'), script);
    let status = 0;
    try {
      execFileSync('bash', [join(dir, 'guest.sh')], { stdio: 'ignore' });
    } catch (error) {
      status = (error as { status: number }).status;
    }
    expect(status).toBe(7);
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe(`${dir}|6.1|it's`);
    expect(readFileSync(join(dir, 'started'), 'utf8').trim()).toBe(execFileSync('uname', ['-r']).toString().trim());
    expect(readFileSync(join(dir, 'exit-code'), 'utf8')).toBe('7\n');
    expect(script).not.toContain('BAD-NAME');
  });
});

describe('vm test targets and reports', () => {
  it('defaults to 6.1, 7 and 7 with lockdown=integrity', () => {
    expect(parseTargets(undefined)).toEqual([
      { line: '6.1', append: [] },
      { line: '7', append: [] },
      { line: '7', append: ['lockdown=integrity'] },
    ]);
  });

  it('parses line:args targets and adds --append to each', () => {
    expect(parseTargets('6.1,7.x:lockdown=integrity+nokaslr', ['quiet'])).toEqual([
      { line: '6.1', append: ['quiet'] },
      { line: '7', append: ['lockdown=integrity', 'nokaslr', 'quiet'] },
    ]);
    expect(() => parseTargets('9')).toThrow(/unknown kernel/);
  });

  it('reads vitest JSON counts and prints a CI-readable closing line', () => {
    const counts = parseVitestJson(
      JSON.stringify({ numTotalTests: 5, numPassedTests: 3, numFailedTests: 1, numPendingTests: 1, numTodoTests: 0 }),
    );
    expect(counts).toEqual({ total: 5, passed: 3, failed: 1, skipped: 1 });
    expect(parseVitestJson('not json')).toBeUndefined();
    const text = formatSuiteResults([
      { target: { line: '6.1', append: [] }, release: '6.1.0-56-amd64', passed: true, status: 0, counts, durationMs: 61_000, attempts: 1 },
      { target: { line: '7', append: ['lockdown=integrity'] }, release: undefined, passed: false, status: 'VM_TIMEOUT', counts: undefined, durationMs: 1000, attempts: 0 },
    ]); // prettier-ignore
    expect(text).toMatch(/^PASS {2}6\.1 \(6\.1\.0-56-amd64\) +3 passed, 1 failed, 1 skipped {2}61 s$/m);
    expect(text).toMatch(/^FAIL {2}7 \[lockdown=integrity\] +status VM_TIMEOUT/m);
    expect(text.split('\n').at(-1)).toBe('kernels: 1 passed, 1 failed');
  });
});

describe('guestCpus', () => {
  it('gives a TCG guest one vCPU (multi-threaded TCG ran rewritten JIT code stale) and a KVM guest two', () => {
    expect(guestCpus('tcg', {})).toBe(1);
    expect(guestCpus('kvm', {})).toBe(2);
  });

  it('takes GOLAB_VM_CPUS when it is a positive integer', () => {
    expect(guestCpus('tcg', { GOLAB_VM_CPUS: '2' })).toBe(2);
    expect(guestCpus('kvm', { GOLAB_VM_CPUS: '4' })).toBe(4);
    expect(guestCpus('tcg', { GOLAB_VM_CPUS: 'two' })).toBe(1);
    expect(guestCpus('tcg', { GOLAB_VM_CPUS: '0' })).toBe(1);
  });
});
