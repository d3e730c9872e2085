/**
 * The kernel lab end to end: `golab vm run` boots a real Debian kernel under qemu (TCG here) and
 * returns the guest command's output and status; an interrupted run leaves no qemu behind.
 * Each boot takes 20–90 s under TCG, so the checks share boots: three runs in all.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { cacheRoot, fetchKernel, type CachedKernel } from '../../lab/vm/kernels.ts';
import { missingTools, PROJECT_ROOT } from '../../lab/vm/runner.ts';

const GOLAB = join(PROJECT_ROOT, 'bin', 'golab.mjs');
const missing = missingTools();

/** Why the VM checks cannot run here, or undefined when they can. */
function skipReason(): string | undefined {
  if (process.env['GOLAB_IN_VM']) return `inside the ${process.env['GOLAB_IN_VM']} guest: no nested qemu`;
  if (missing.length > 0) return `cannot boot a VM: missing ${missing.join(', ')} (provision/vm.sh installs them)`;
  return undefined;
}

function requireVm(context: TestContext): void {
  const reason = skipReason();
  if (reason) context.skip(reason);
}

/** pids of qemu processes whose command line names this golab process's VMs. */
function qemuOf(golabPid: number): string[] {
  try {
    return execFileSync('pgrep', ['-f', `qemu-system.*golab-vm-${golabPid}-`]).toString().trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

function runDirsOf(golabPid: number): string[] {
  const runs = join(cacheRoot(), 'runs');
  return existsSync(runs) ? readdirSync(runs).filter((name) => name.startsWith(`${golabPid}-`)) : [];
}

describe('golab vm (qemu + virtme-ng)', () => {
  let kernel: CachedKernel | undefined;

  beforeAll(async () => {
    if (skipReason()) return;
    kernel = await fetchKernel('6.1');
  });

  it('runs a command on 6.1: prints its output, exits 0, with headers, tracefs and the VM marker in place', async (context) => {
    requireVm(context);
    const script = [
      'uname -r',
      'echo "in-vm=$GOLAB_IN_VM"',
      'cat /sys/kernel/security/lockdown',
      'test -f /lib/modules/$(uname -r)/build/include/generated/autoconf.h && echo headers=build',
      'test -f /lib/modules/$(uname -r)/source/include/linux/kconfig.h && echo headers=source',
      'grep -q " /sys/kernel/tracing tracefs" /proc/mounts && echo tracefs=mounted',
      'test -w "$PWD" && echo cwd=writable',
    ].join('; ');
    const result = await execa('node', [GOLAB, 'vm', 'run', '--kernel', '6.1', '--', 'bash', '-c', script], {
      cwd: PROJECT_ROOT,
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      kernel!.release,
      'in-vm=6.1',
      '[none] integrity confidentiality',
      'headers=build',
      'headers=source',
      'tracefs=mounted',
      'cwd=writable',
    ]);
    expect(kernel!.release).toMatch(/^6\.1\.\d+-\d+-amd64$/);
  });

  it("returns the guest command's exit status, and applies --append (lockdown=integrity)", async (context) => {
    requireVm(context);
    const result = await execa(
      'node',
      [GOLAB, 'vm', 'run', '--kernel', '6.1', '--append', 'lockdown=integrity', '--', 'bash', '-c', 'cat /sys/kernel/security/lockdown; exit 3'],
      { cwd: PROJECT_ROOT, reject: false },
    );
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stdout).toBe('none [integrity] confidentiality');
  });

  it('leaves no qemu and no run directory when interrupted with SIGINT during the boot', async (context) => {
    requireVm(context);
    const child = execa('node', [GOLAB, 'vm', 'run', '--kernel', '6.1', '--', 'sleep', '600'], {
      cwd: PROJECT_ROOT,
      reject: false,
    });
    const pid = child.pid!;
    try {
      // Wait until qemu is really up, so the interrupt lands mid-boot.
      const deadline = Date.now() + 60_000;
      while (qemuOf(pid).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      expect(qemuOf(pid), 'qemu never started').not.toEqual([]);
      process.kill(pid, 'SIGINT');
      const result = await child;
      expect(result.signal ?? result.exitCode).toSatisfy((how) => how === 'SIGINT' || how === 130);
      expect(qemuOf(pid)).toEqual([]);
      expect(runDirsOf(pid)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      for (const qemu of qemuOf(pid)) process.kill(Number(qemu), 'SIGKILL');
    }
  });
});
