/**
 * Issue 8, item 1: every mistake a user can make, and every missing piece of the host, ends in a
 * typed error with a stable code, the documented exit code, and a message or hint that says
 * what to do. Real inputs throughout: binaries built by lab/toolchain, copies of them damaged on
 * purpose, the real libbcc and kernel, the real CLI (`node bin/golab.mjs`) where the user would
 * meet the error there.
 *
 * Each test records the code and exit code it saw; the last test checks that the README's error
 * table lists every one of them with the same exit code.
 */
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfModule } from '../../lab/bcc/module.ts';
import { lockdownMode } from '../../lab/bcc/capabilities.ts';
import { GolabError } from '../../lab/errors.ts';
import { findToolchain } from '../../lab/toolchain/discover.ts';
import { capabilities } from '../support/capabilities.ts';
import { build } from '../support/tracees.ts';
import { golab, printedError, PROJECT_ROOT, type CliRun, type PrintedError } from './support.ts';

/** code → exit code, as the tests saw them. */
const seen = new Map<string, number>();

/** Asserts the CLI run ended in `code` with `exitCode`, and returns the parsed error. */
function expectCliError(run: CliRun, code: string, exitCode: number): PrintedError {
  const error = printedError(run.stderr);
  expect(error.code, run.stderr).toBe(code);
  expect(run.exitCode, run.stderr).toBe(exitCode);
  seen.set(code, exitCode);
  return error;
}

/** Asserts `action` threw a GolabError `code` with `exitCode`, and returns it. */
async function expectThrown(action: () => unknown, code: string, exitCode: number): Promise<GolabError> {
  let thrown: unknown;
  try {
    await action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(GolabError);
  const error = thrown as GolabError;
  expect(error.code, error.describe()).toBe(code);
  expect(error.exitCode).toBe(exitCode);
  seen.set(code, exitCode);
  return error;
}

let scratch: string;
let seed115: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'golab-faults-'));
  // A private copy: other test files run the cached seed at the same time, and golab rightly
  // refuses (BINARY_IN_USE) to trace a binary other processes are running.
  // Readable by the unprivileged user of the privilege tests, like the build cache.
  chmodSync(scratch, 0o755);
  seed115 = join(scratch, 'seed');
  copyFileSync((await build('seed', '1.15')).path, seed115);
  chmodSync(seed115, 0o755);
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('the binary', () => {
  it('missing path: ELF_NOT_FOUND, exit 2, says to check the path', async () => {
    const error = expectCliError(await golab(['trace', '--binary', join(scratch, 'nope'), '--func', 'main.ebpfDemo']), 'ELF_NOT_FOUND', 2);
    expect(error.message).toContain('no such file');
    expect(error.hint).toMatch(/path/);
  });

  it('a directory: ELF_IS_DIRECTORY, exit 2, says to pass the built executable', async () => {
    const error = expectCliError(await golab(['trace', '--binary', scratch, '--func', 'main.ebpfDemo']), 'ELF_IS_DIRECTORY', 2);
    expect(error.hint).toMatch(/executable/);
  });

  it('not ELF (a shell script): ELF_NOT_ELF, exit 3', async () => {
    const script = join(scratch, 'script.sh');
    writeFileSync(script, '#!/bin/sh\necho hello\n', { mode: 0o755 });
    const error = expectCliError(await golab(['trace', '--binary', script, '--func', 'main.main']), 'ELF_NOT_ELF', 3);
    expect(error.hint).toMatch(/compiled Go executable/);
  });

  it('ELF for another architecture (e_machine patched to AArch64): ELF_WRONG_ARCH, exit 3, says GOARCH=amd64', async () => {
    const arm = join(scratch, 'seed-aarch64');
    copyFileSync(seed115, arm);
    const fd = openSync(arm, 'r+');
    writeSync(fd, Buffer.from([183, 0]), 0, 2, 18); // e_machine = EM_AARCH64
    closeSync(fd);
    const error = expectCliError(await golab(['trace', '--binary', arm, '--func', 'main.ebpfDemo']), 'ELF_WRONG_ARCH', 3);
    expect(error.message).toContain('e_machine 183');
    expect(error.hint).toContain('GOARCH=amd64');
  });

  it('a truncated Go binary: ELF_TRUNCATED, exit 3, says to rebuild or copy again', async () => {
    const cut = join(scratch, 'seed-truncated');
    copyFileSync(seed115, cut);
    truncateSync(cut, Math.floor(statSync(seed115).size / 3));
    const error = expectCliError(await golab(['trace', '--binary', cut, '--func', 'main.ebpfDemo']), 'ELF_TRUNCATED', 3);
    expect(error.message).toMatch(/past the end of the \d+-byte file/);
    expect(error.hint).toMatch(/rebuild|copy/);
  });
});

describe('the function', () => {
  it('not found: FUNCTION_NOT_FOUND, exit 2, suggests the nearest names', async () => {
    const error = expectCliError(await golab(['trace', '--binary', seed115, '--func', 'main.ebpfDemp']), 'FUNCTION_NOT_FOUND', 2);
    expect(error.hint).toMatch(/^Did you mean: main\.ebpfDemo\b/);
    const bare = expectCliError(await golab(['trace', '--binary', seed115, '--func', 'ebpfDemo']), 'FUNCTION_NOT_FOUND', 2);
    expect(bare.hint).toMatch(/^Did you mean: main\.ebpfDemo\b/);
  });

  it("inlined away (the zoo's main.InlinedAdd): FUNCTION_INLINED, exit 2, says //go:noinline", async () => {
    const zoo = (await build('zoo', '1.19')).path;
    const error = expectCliError(await golab(['trace', '--binary', zoo, '--func', 'main.InlinedAdd']), 'FUNCTION_INLINED', 2);
    expect(error.message).toContain('exists only inlined');
    expect(error.hint).toContain('//go:noinline');
  });

  it('stripped with no pclntab (gccgo -s, and a C binary): GO_STRIPPED_NO_PCLNTAB, exit 3', async () => {
    const gccgoStripped = (await build('seed', 'gccgo', 'stripped')).path;
    for (const binary of [gccgoStripped, '/usr/bin/true']) {
      const error = expectCliError(await golab(['trace', '--binary', binary, '--func', 'main.ebpfDemo']), 'GO_STRIPPED_NO_PCLNTAB', 3);
      expect(error.hint).toMatch(/unstripped build/);
    }
  });
});

describe('BCC and the kernel', () => {
  it("a BCC compile error: BCC_COMPILE_FAILED, exit 6, with clang's diagnostics and nothing else", async () => {
    const error = await expectThrown(
      () => BpfModule.compile('int golab_broken(struct pt_regs *ctx) {\n  return undeclared_thing + 1;\n}\n'),
      'BCC_COMPILE_FAILED',
      6,
    );
    expect(error.detail).toMatch(/error: use of undeclared identifier 'undeclared_thing'/);
    // Shortened: the kernel headers' warnings are dropped when there are errors, and at most
    // 40 lines are kept.
    expect(error.detail).not.toMatch(/warning:/);
    expect(error.detail!.split('\n').length).toBeLessThanOrEqual(41);
    expect(error.hint).toMatch(/fix the C error/);
  });

  it('a verifier rejection (an unbounded read): BPF_VERIFIER_REJECTED, exit 5, with the end of the log', async () => {
    using module = BpfModule.compile(`
#include <uapi/linux/ptrace.h>
int golab_unbounded(struct pt_regs *ctx) {
  char buffer[64];
  u64 size = ctx->di;  // any value: the verifier cannot bound it
  bpf_probe_read_user(buffer, size, (void *)ctx->si);
  return buffer[0];
}
`);
    const error = await expectThrown(() => module.load('golab_unbounded'), 'BPF_VERIFIER_REJECTED', 5);
    const lines = error.detail!.split('\n');
    expect(lines.length).toBeLessThanOrEqual(31);
    // The end of the log is kept: the reason and the verifier's summary.
    expect(error.detail).toMatch(/R2 (unbounded memory access|min value is negative)/);
    expect(lines.at(-1)).toMatch(/processed \d+ insns/);
    expect(error.hint).toMatch(/end of the verifier log/);
    expect(error.message).toContain("'golab_unbounded'");
  });

  it('kernel headers missing (BCC_KERNEL_SOURCE at an empty dir): BCC_HEADERS_MISSING, exit 4, names the variable', async () => {
    const empty = join(scratch, 'no-headers');
    mkdirSync(empty);
    const run = await golab(['trace', '--binary', seed115, '--func', 'main.ebpfDemo', '--duration', '1'], {
      env: { BCC_KERNEL_SOURCE: empty },
    });
    const error = expectCliError(run, 'BCC_HEADERS_MISSING', 4);
    expect(error.detail).toContain('Unable to find kernel headers');
    expect(error.hint).toContain(`BCC_KERNEL_SOURCE=${empty}`);
  });

  it('kernel headers missing (/lib/modules/$(uname -r) hidden in a private mount namespace): says linux-headers', async (context) => {
    if (process.getuid?.() !== 0) context.skip('unshare -m needs root');
    const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
    // The tmpfs covers the module directory only inside the new namespace, and goes with it.
    const script = `mount -t tmpfs golab-hide /lib/modules/${release} && exec "$@"`;
    const run = await golab(['trace', '--binary', seed115, '--func', 'main.ebpfDemo', '--duration', '1'], {
      prefix: ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh'],
    });
    const error = expectCliError(run, 'BCC_HEADERS_MISSING', 4);
    expect(error.hint).toContain('linux-headers-$(uname -r)');
    expect(error.hint).toContain('provision/host.sh');
  });

  it('libbcc missing (GOLAB_LIBBCC=/nonexistent): BCC_MISSING, exit 4, says how to install it', async () => {
    const run = await golab(['trace', '--binary', seed115, '--func', 'main.ebpfDemo', '--duration', '1'], {
      env: { GOLAB_LIBBCC: '/nonexistent/libbcc.so.0' },
    });
    const error = expectCliError(run, 'BCC_MISSING', 4);
    expect(error.message).toContain('/nonexistent/libbcc.so.0');
    expect(error.hint).toMatch(/apt-get install libbpfcc/);
    expect(error.hint).toContain('GOLAB_LIBBCC');
  });

  it('libbcc of an unknown version (GOLAB_LIBBCC at libc): BCC_UNKNOWN_VERSION, exit 4', async () => {
    const run = await golab(['trace', '--binary', seed115, '--func', 'main.ebpfDemo', '--duration', '1'], {
      env: { GOLAB_LIBBCC: '/lib/x86_64-linux-gnu/libc.so.6' },
    });
    const error = expectCliError(run, 'BCC_UNKNOWN_VERSION', 4);
    expect(error.message).toContain('bcc_func_load');
    expect(error.hint).toMatch(/libbcc 0\.18 or later/);
  });

  it('not root and without CAP_BPF/CAP_PERFMON (uid 65534): PRIVILEGES_MISSING, exit 4, says sudo or the capabilities', async (context) => {
    if (process.getuid?.() !== 0) context.skip('dropping to uid 65534 needs root');
    const run = await golab(['trace', '--binary', seed115, '--func', 'main.ebpfDemo', '--duration', '1'], {
      prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'],
    });
    const error = expectCliError(run, 'PRIVILEGES_MISSING', 4);
    expect(error.message).toContain('uid 65534');
    expect(error.message).toContain('CAP_BPF=no CAP_PERFMON=no');
    expect(error.detail).toMatch(/Operation not permitted/);
    expect(error.hint).toMatch(/sudo/);
    expect(error.hint).toMatch(/CAP_BPF and CAP_PERFMON/);
  });

  it('with CAP_BPF+CAP_PERFMON but not root: the error says what this kernel still wants (or the trace works)', async (context) => {
    if (process.getuid?.() !== 0) context.skip('dropping to uid 65534 needs root');
    const run = await golab(['trace', '--binary', seed115, '--func', 'main.ebpfDemo', '--json', '--run'], {
      prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+bpf,+perfmon', '--ambient-caps=+bpf,+perfmon'],
    });
    if (run.exitCode === 0) {
      // A kernel that grants uprobe perf events to CAP_PERFMON: the advice worked.
      expect(JSON.parse(run.stdout.split('\n').find((l) => l.startsWith('{'))!).args).toEqual({ a1: '100', a2: true, a3: 66.88 });
      await context.annotate('CAP_BPF+CAP_PERFMON were enough to trace');
      return;
    }
    // Measured on 6.18: the maps and programs load, the uprobe perf event gets EACCES.
    const error = expectCliError(run, 'PRIVILEGES_MISSING', 4);
    expect(error.message).toContain('CAP_BPF=yes CAP_PERFMON=yes CAP_SYS_ADMIN=no');
    expect(error.hint).toMatch(/run golab as root \(sudo\)/);
    await context.annotate(`${error.message}\nhint: ${error.hint}`);
  });

  it('lockdown refusing a rewrite (Go 1.15 seed, a1=2021): BPF_HELPER_REFUSED, exit 5, names the lockdown mode and the VM route', async (context) => {
    const caps = await capabilities();
    if (caps.probeWriteUser.ok) context.skip(`nothing refuses the rewrite here: ${caps.probeWriteUser.reason}`);
    const run = await golab(['trace', '--binary', seed115, '--func', 'main.ebpfDemo', '--rewrite', 'a1=2021', '--allow-write', '--run']);
    const error = expectCliError(run, 'BPF_HELPER_REFUSED', 5);
    const mode = lockdownMode();
    expect(error.message).toContain('bpf_probe_write_user');
    if (mode !== 'none' && mode !== 'unknown') expect(error.message).toContain(`lockdown=${mode}`);
    expect(error.detail).toMatch(/cannot use helper bpf_probe_write_user/);
    expect(error.hint).toMatch(/golab vm run --kernel 6\.1/);
    // Refused at load, before the tracee was started: it never ran with a half-applied rewrite.
    expect(run.stdout).not.toContain('ebpfDemo::');
  });
});

describe('the lab around it', () => {
  it('qemu not on PATH: VM_TOOL_MISSING, exit 4, names the package and provision/vm.sh', async () => {
    // A PATH with everything of /usr/bin and /usr/sbin but qemu-system-*.
    const bin = join(scratch, 'path-without-qemu');
    mkdirSync(bin);
    for (const dir of ['/usr/bin', '/usr/sbin']) {
      for (const name of readdirSync(dir)) {
        if (name.startsWith('qemu-system-')) continue;
        try {
          symlinkSync(join(dir, name), join(bin, name));
        } catch {
          // The same name in both directories: the first wins, as on PATH.
        }
      }
    }
    const error = expectCliError(await golab(['vm', 'run', '--kernel', '6.1', '--', 'true'], { env: { PATH: bin } }), 'VM_TOOL_MISSING', 4);
    expect(error.message).toContain('qemu-system-x86_64 (Debian package qemu-system-x86)');
    expect(error.hint).toContain('provision/vm.sh');
  });

  it('a kernel package apt cannot find: VM_KERNEL_UNAVAILABLE, exit 4, says to add the suite and apt-get update', async () => {
    // An APT configuration with no package lists, and an empty lab cache: the line must be resolved.
    const apt = join(scratch, 'apt');
    for (const dir of ['lists/partial', 'cache/archives/partial', 'sources.list.d']) mkdirSync(join(apt, dir), { recursive: true });
    writeFileSync(join(apt, 'sources.list'), '');
    writeFileSync(
      join(apt, 'apt.conf'),
      [
        `Dir::State::Lists "${apt}/lists";`,
        `Dir::Cache "${apt}/cache";`,
        `Dir::Etc::SourceList "${apt}/sources.list";`,
        `Dir::Etc::SourceParts "${apt}/sources.list.d";`,
      ].join('\n'),
    );
    const run = await golab(['vm', 'fetch', '--kernel', '5.10'], { env: { APT_CONFIG: join(apt, 'apt.conf'), GOLAB_CACHE: join(scratch, 'cache') } });
    const error = expectCliError(run, 'VM_KERNEL_UNAVAILABLE', 4);
    expect(error.message).toContain('apt knows no linux-image-5.10');
    expect(error.hint).toMatch(/provision\/vm\.sh.*apt-get update/);
  });

  it('a kernel version that does not exist: VM_KERNEL_UNKNOWN, exit 2, lists the known lines', async () => {
    const error = expectCliError(await golab(['vm', 'fetch', '--kernel', '9.9']), 'VM_KERNEL_UNKNOWN', 2);
    expect(error.hint).toMatch(/use one of 5\.10, 6\.1, 6\.12, 7/);
  });

  it('a Go toolchain missing for a requested version (1.99): TOOLCHAIN_MISSING, exit 4, says how to install one', async () => {
    const error = await expectThrown(() => findToolchain('1.99'), 'TOOLCHAIN_MISSING', 4);
    expect(error.message).toMatch(/no Go toolchain matches "1\.99" \(found: .*go1\.15/);
    expect(error.hint).toMatch(/provision\/go\.sh|apt-get install/);
    expect(error.hint).toContain('GOLAB_GOROOTS');
  });
});

describe('the README', () => {
  it('lists every code above with the exit code the CLI used, and a fix', () => {
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const section = /<!-- section:errors -->([\s\S]*?)<!-- \/section:errors -->/.exec(readme)?.[1];
    expect(section, 'README has no errors section').toBeDefined();
    const rows = new Map<string, { exit: number; fix: string }>();
    for (const line of section!.split('\n')) {
      const cells = line.split('|').map((cell) => cell.trim());
      // A ✓ after the code marks the rows a fault test provokes.
      const code = /^`([A-Z0-9_]+)`( ✓)?$/.exec(cells[1] ?? '')?.[1];
      if (code) rows.set(code, { exit: Number(cells[2]), fix: cells.at(-2) ?? '' });
    }
    expect(seen.size).toBeGreaterThanOrEqual(15);
    for (const [code, exit] of seen) {
      expect(rows.get(code), `README row for ${code}`).toBeDefined();
      expect(rows.get(code)!.exit, `README exit code of ${code}`).toBe(exit);
      expect(rows.get(code)!.fix.length, `README fix for ${code}`).toBeGreaterThan(10);
    }
  });
});
