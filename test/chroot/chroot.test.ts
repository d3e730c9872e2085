/**
 * Issue 6, item 4: the libbcc binding works on each BCC API, proven against the real libraries
 * on this kernel: libbpfcc 0.18 (bullseye chroot; BCC 0.23's 11-argument bcc_func_load), 0.31
 * (trixie chroot) and the host's 0.26. provision/chroots.sh builds the chroots and runs the
 * host's node inside them with the project and the lab's build cache bind-mounted.
 *
 * In each: `golab doctor --json` says which library and API level it found, and `golab trace`
 * traces the seed tracee, built with Go 1.15 on the host, through the ring buffer and through
 * the perf buffer (0.18 has only the 6-argument bpf_open_perf_buffer). The values must equal the
 * seed's own printout: a1=100, a2=true, a3=66.88.
 */
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { build } from '../support/tracees.ts';
import { GOLAB_BIN, PROJECT_ROOT } from '../faults/support.ts';

const CHROOTS_SH = `${PROJECT_ROOT}provision/chroots.sh`;
const CHROOTS = '/var/cache/go-ebpf-lab/chroots';

interface Target {
  /** `host`, or the chroot's suite. */
  readonly where: 'host' | 'bullseye' | 'trixie';
  /** The libbpfcc release it has. */
  readonly bcc: string;
  /** bcc_func_load's arity there: 11 before BCC 0.25, 12 from it. */
  readonly funcLoadArity: 11 | 12;
}

const targets: readonly Target[] = [
  { where: 'bullseye', bcc: '0.18', funcLoadArity: 11 },
  { where: 'host', bcc: '0.26', funcLoadArity: 12 },
  { where: 'trixie', bcc: '0.31', funcLoadArity: 12 },
];

/** Why the chroots cannot be had, if they cannot; set by beforeAll. */
let unavailable: string | undefined;
let seed: string;
/** The seed's own printout of its one call, e.g. { a1: '100', a2: 'true', a3: '66.88' }. */
let printed: { a1: string; a2: string; a3: string };

/** Runs `node bin/golab.mjs ...args` on the host or in a chroot. */
async function golabIn(where: Target['where'], args: readonly string[]) {
  const command = where === 'host' ? [process.execPath, GOLAB_BIN, ...args] : [CHROOTS_SH, 'run', where, '--', 'node', 'bin/golab.mjs', ...args];
  return execa(command[0]!, command.slice(1), { cwd: PROJECT_ROOT, reject: false, stdin: 'ignore', timeout: 180_000 });
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) {
    unavailable = 'the chroot tests need root (chroot, unshare -m, BPF)';
    return;
  }
  const missing = ['bullseye', 'trixie'].filter((suite) => !existsSync(`${CHROOTS}/${suite}/.golab-ready`));
  if (missing.length > 0) {
    const debootstrap = await execa('sh', ['-c', 'command -v debootstrap || apt-cache show debootstrap >/dev/null 2>&1'], { reject: false });
    if (debootstrap.exitCode !== 0) {
      unavailable = `the ${missing.join(' and ')} chroots are not built and debootstrap is absent: run sudo provision/chroots.sh build all`;
      return;
    }
    // debootstrap of both suites: ~3-5 minutes each. chroots.sh installs debootstrap if needed.
    const built = await execa(CHROOTS_SH, ['build', 'all'], { reject: false, all: true, stdin: 'ignore', timeout: 30 * 60_000 });
    if (built.exitCode !== 0) throw new Error(`provision/chroots.sh build all failed:\n${built.all}`);
  }
  seed = (await build('seed', '1.15')).path;
  const run = await execa(seed);
  const match = /^ebpfDemo:: a1=(-?\d+), a2=(true|false) a3=(-?[\d.]+)$/m.exec(run.stdout);
  if (!match) throw new Error(`no ebpfDemo line in the seed's output:\n${run.stdout}`);
  printed = { a1: match[1]!, a2: match[2]!, a3: match[3]! };
}, 40 * 60_000);

describe.each(targets)('libbpfcc $bcc ($where)', ({ where, bcc, funcLoadArity }) => {
  it(`golab doctor finds libbcc ${bcc} with the ${funcLoadArity}-argument bcc_func_load`, async (context) => {
    if (unavailable) context.skip(unavailable);
    const run = await golabIn(where, ['doctor', '--json']);
    const report = JSON.parse(String(run.stdout)) as {
      libbcc: { ok: boolean; path?: string; version?: string; api?: { funcLoadArity: number } };
      canTrace: boolean;
    };
    expect(report.libbcc.ok, String(run.stderr)).toBe(true);
    expect(report.libbcc.version).toMatch(new RegExp(`^${bcc.replace('.', '\\.')}\\.`));
    expect(report.libbcc.api?.funcLoadArity).toBe(funcLoadArity);
    expect(report.canTrace).toBe(true);
    await context.annotate(`${report.libbcc.path}: version ${report.libbcc.version}, bcc_func_load arity ${report.libbcc.api?.funcLoadArity}`);
  });

  it.for(['ring', 'perf'] as const)('golab trace reads the seed\'s a1, a2, a3 exactly through the %s buffer', async (transport, context) => {
    if (unavailable) context.skip(unavailable);
    const run = await golabIn(where, ['trace', '--binary', seed, '--func', 'main.ebpfDemo', '--transport', transport, '--run', '--json']);
    expect(run.exitCode, String(run.stderr)).toBe(0);
    const stdout = String(run.stdout);
    // The traced run printed what the unprobed run printed.
    expect(stdout).toContain(`ebpfDemo:: a1=${printed.a1}, a2=${printed.a2} a3=${printed.a3}`);
    const calls = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { function: string; args: { a1: string; a2: boolean; a3: number } });
    expect(calls).toHaveLength(1);
    const { args } = calls[0]!;
    expect(args.a1).toBe(printed.a1);
    expect(String(args.a2)).toBe(printed.a2);
    expect(String(args.a3)).toBe(printed.a3);
    expect(args).toEqual({ a1: '100', a2: true, a3: 66.88 });
  });
});
