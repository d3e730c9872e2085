/**
 * Checks of the provisioning code that CI would otherwise only find out about on a fresh machine:
 * every script parses and is ShellCheck-clean, the Vagrantfile validates with Debian's vagrant,
 * go.sh holds a well-formed checksum for every tarball it may download, and kernel.sh really
 * links the nearest headers when no package matches the running kernel.
 *
 * The tools are real (shellcheck, vagrant, bash, unshare); a check skips only when its tool is
 * absent, naming it and the script that installs it.
 */
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, type TestContext } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Every shell script CI owns: provision/*.sh and .ci/run. */
async function shellScripts(): Promise<string[]> {
  const provision = (await readdir(path.join(root, 'provision')))
    .filter((name) => name.endsWith('.sh'))
    .map((name) => path.join('provision', name));
  return [...provision.sort(), '.ci/run'];
}

/** Skips the test unless `tool` is on PATH. */
async function requireTool(context: TestContext, tool: string, installedBy: string): Promise<void> {
  const found = await execa('sh', ['-c', `command -v ${tool}`], { reject: false });
  if (found.exitCode !== 0) context.skip(`${tool} is not installed (${installedBy} installs it)`);
}

describe('shell scripts', () => {
  it('parse with bash -n', async () => {
    for (const script of await shellScripts()) {
      const result = await execa('bash', ['-n', script], { cwd: root, reject: false });
      expect(result.stderr, script).toBe('');
      expect(result.exitCode, script).toBe(0);
    }
  });

  it('are ShellCheck-clean', async (context) => {
    await requireTool(context, 'shellcheck', 'provision/tools.sh');
    // .shellcheckrc's external-sources key and today's checks need ShellCheck 0.8 or later;
    // Ubuntu 20.04 (the Vagrant VM) ships 0.7.0, which would report the rc key itself.
    const version = /version: (\d+)\.(\d+)/.exec((await execa('shellcheck', ['--version'])).stdout);
    const [major, minor] = [Number(version?.[1] ?? 0), Number(version?.[2] ?? 0)];
    if (major === 0 && minor < 8) context.skip(`shellcheck ${major}.${minor} is older than 0.8 (CI on Debian 12 runs 0.9)`);
    // Run from the root: `# shellcheck source=provision/lib.sh` directives are relative to it.
    const result = await execa('shellcheck', ['--external-sources', ...(await shellScripts())], { cwd: root, reject: false });
    expect(result.stdout).toBe('');
    expect(result.exitCode).toBe(0);
  });

  // Under `set -o pipefail` a reader that stops early (head, grep -q, awk's exit) closes the pipe,
  // the writer dies of SIGPIPE and the whole pipeline fails with 141 — but only when the writer
  // has more to say than fits in the pipe, i.e. on some machines and not others. CI once stopped
  // at the libbcc step that way (`ldconfig -p | awk '... exit'`). Here-strings and readers that
  // consume everything (sed -n 1p) are immune.
  it('have no early-closing reader at the end of a pipe (SIGPIPE under pipefail)', async () => {
    const earlyClosing = /\|\s*(head\b|grep\s+-[a-zA-Z]*q|awk\s+'[^']*\bexit\b)/;
    const offenders: string[] = [];
    for (const script of await shellScripts()) {
      const lines = (await readFile(path.join(root, script), 'utf8')).split('\n');
      lines.forEach((line, index) => {
        if (!line.trimStart().startsWith('#') && earlyClosing.test(line)) offenders.push(`${script}:${index + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});

describe('Vagrantfile', () => {
  it('passes vagrant validate --ignore-provider', async (context) => {
    await requireTool(context, 'vagrant', 'provision/tools.sh');
    // Keep Vagrant's per-project state (.vagrant/) out of the working tree.
    const dotfiles = await mkdtemp(path.join(tmpdir(), 'golab-vagrant-'));
    try {
      const result = await execa('vagrant', ['validate', '--ignore-provider'], {
        cwd: root,
        env: { VAGRANT_DOTFILE_PATH: dotfiles, VAGRANT_CHECKPOINT_DISABLE: '1' },
        reject: false,
      });
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('Vagrantfile validated successfully.');
      expect(result.exitCode).toBe(0);
    } finally {
      await rm(dotfiles, { recursive: true, force: true });
    }
  });

  it('sizes the VM like the tutorial and runs the provision/ steps in order', async () => {
    const vagrantfile = await readFile(path.join(root, 'Vagrantfile'), 'utf8');
    expect(vagrantfile).toMatch(/^CPUS = 4$/m);
    expect(vagrantfile).toMatch(/^MEMORY_MB = 4096$/m);
    expect(vagrantfile).toMatch(/^DISK_GB = 40$/m);
    const steps = [...vagrantfile.matchAll(/provision\.call\("([\w-]+)", "([\w.-]+)"/g)].map((match) => match[2]);
    expect(steps).toEqual([
      'vagrant-guest.sh',
      'vagrant-guest.sh',
      'kernel.sh',
      'node.sh',
      'bcc-source.sh',
      'go.sh',
      'tools.sh',
      'npm-ci.sh',
      'doctor.sh',
    ]);
    for (const script of new Set(steps)) expect(existsSync(path.join(root, 'provision', script!)), script).toBe(true);
  });
});

describe('provision/go.sh', () => {
  it('records a sha256 for every Go tarball it can install', async () => {
    const script = await readFile(path.join(root, 'provision/go.sh'), 'utf8');
    const table = (name: string): Map<string, string> => {
      const body = new RegExp(`declare -A ${name}=\\(([^)]*)\\)`).exec(script)?.[1];
      if (body === undefined) throw new Error(`no ${name} table in provision/go.sh`);
      return new Map([...body.matchAll(/\[([\d.]+)\]=(\S+)/g)].map((match) => [match[1]!, match[2]!]));
    };
    const versions = table('TARBALL_VERSION');
    const sums = table('TARBALL_SHA256');
    expect(versions.get('1.15')).toBe('1.15.15');
    for (const [minor, version] of versions) {
      expect(version.startsWith(`${minor}.`), `${minor} -> ${version}`).toBe(true);
      expect(sums.get(version), `sha256 of go${version}`).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

describe('provision/kernel.sh', () => {
  it('links the nearest packaged headers when none match the running kernel', async (context) => {
    if (process.getuid?.() !== 0) context.skip('needs root: it runs kernel.sh in a private mount namespace (unshare -m)');
    const release = (await execa('uname', ['-r'])).stdout.trim();
    const exact = await execa('dpkg-query', ['-W', '-f=${Status}', `linux-headers-${release}`], { reject: false });
    if (exact.stdout.includes('install ok installed')) {
      context.skip(`linux-headers-${release} is installed: the running kernel has its own headers, nothing to link`);
    }
    await requireTool(context, 'unshare', 'util-linux');
    // A tmpfs over /lib/modules, visible only inside the namespace, gives kernel.sh the state of
    // a machine it never ran on. GOLAB_APT_UPDATED skips apt-get update: the test needs no network.
    const script = [
      'set -e',
      'mount -t tmpfs golab-test /lib/modules',
      './provision/kernel.sh',
      `readlink -f /lib/modules/${release}/build`,
      `readlink -f /lib/modules/${release}/source`,
      `./provision/kernel.sh 2>&1 | grep -c linked || true`,
    ].join('\n');
    const result = await execa('unshare', ['-m', 'bash', '-c', script], {
      cwd: root,
      env: { GOLAB_APT_UPDATED: '1' },
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const [build, source, relinkedOnSecondRun] = result.stdout.trim().split('\n');
    expect(result.stderr).toContain(`no headers package matches the running kernel ${release}`);
    expect(build).toMatch(/^\/usr\/src\/linux-headers-[\d.]+-[^/]+$/);
    expect(existsSync(path.join(build!, 'Makefile'))).toBe(true);
    // Debian splits headers into -<flavour> and -common; Ubuntu into -<flavour> and a bare tree.
    expect(source).toMatch(/^\/usr\/src\/linux-headers-[\d.]+-\d+(-common)?$/);
    expect(existsSync(path.join(source!, 'include/linux/kconfig.h'))).toBe(true);
    // The second run finds working links and changes nothing.
    expect(relinkedOnSecondRun).toBe('0');
  });
});
