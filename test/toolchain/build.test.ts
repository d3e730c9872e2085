/**
 * Integration: discovers the real toolchains of this machine and builds the seed tracee with
 * two of them (gc 1.15 with ABI0, gccgo with System V) in every mode, through a fresh cache.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGolabError } from '../../lab/errors.ts';
import { buildAll, buildTracee, type BuildResult } from '../../lab/toolchain/build.ts';
import { discoverToolchainsDetailed, findToolchain } from '../../lab/toolchain/discover.ts';
import { BUILD_MODES, type Toolchain } from '../../lab/toolchain/types.ts';

const SEED_OUTPUT = 'ebpfDemo:: a1=100, a2=true a3=66.88\nmain:: r1=100, r2=200 r3=test for ebpf\n';

/** ELF e_type: 2 = ET_EXEC (fixed address), 3 = ET_DYN (PIE). */
async function elfType(file: string): Promise<number> {
  return (await readFile(file)).readUInt16LE(16);
}

async function hasSymtab(file: string): Promise<boolean> {
  const { stdout } = await execa('readelf', ['-S', '-W', file]);
  return /\]\s+\.symtab\s/.test(stdout);
}

describe('toolchain discovery', () => {
  it('finds the nine Debian gc toolchains and gccgo, each telling its own version', async () => {
    const { toolchains, skipped } = await discoverToolchainsDetailed({ refresh: true });
    expect(skipped).toEqual([]);
    expect(toolchains.length).toBeGreaterThanOrEqual(10);
    const gc = toolchains.filter((toolchain) => toolchain.kind === 'gc');
    expect(gc.map((toolchain) => toolchain.version.split('.').slice(0, 2).join('.'))).toEqual(
      expect.arrayContaining(['1.15', '1.19', '1.21', '1.22', '1.23', '1.24', '1.25', '1.26', '1.27']),
    );
    for (const toolchain of gc) {
      const { stdout } = await execa(toolchain.goBinary, ['version'], { env: { GOTOOLCHAIN: 'local' } });
      expect(stdout).toContain(`go${toolchain.version} `);
      expect(toolchain.id).toBe(`go${toolchain.version}`);
      // gc moved from the stack ABI0 to the register ABIInternal on amd64 in Go 1.17.
      const minor = Number(toolchain.version.split('.')[1]);
      expect(toolchain.abi).toBe(minor < 17 ? 'abi0' : 'abiinternal');
    }
    const gccgo = await findToolchain('gccgo');
    expect(gccgo).toMatchObject({ id: 'gccgo-12', kind: 'gccgo', version: '1.18', abi: 'sysv' });
    // Deduplicated: /usr/bin/gccgo-12 and x86_64-linux-gnu-gccgo-12 are one toolchain.
    expect(toolchains.filter((toolchain) => toolchain.kind === 'gccgo')).toHaveLength(1);
  });

  it('says how to install a missing toolchain', async () => {
    const error = await findToolchain('go1.22.3').catch((thrown: unknown) => thrown);
    expect(isGolabError(error, 'TOOLCHAIN_MISSING')).toBe(true);
    expect((error as { hint: string }).hint).toContain('golang-1.22-go/bookworm-backports');
  });
});

describe('building the seed tracee', () => {
  let cacheDir: string;
  let toolchains: Toolchain[];

  beforeAll(async () => {
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'golab-build-test-'));
    toolchains = [await findToolchain('1.15'), await findToolchain('gccgo')];
  });
  afterAll(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('builds every mode with two toolchains, then serves the same binaries from the cache', async () => {
    const requests = toolchains.flatMap((toolchain) => BUILD_MODES.map((mode) => ({ tracee: 'seed', toolchain, mode })));
    const first = await buildAll(requests, { cacheDir, concurrency: 2 });
    expect(first.map((result) => result.cached)).toEqual(requests.map(() => false));
    expect(new Set(first.map((result) => result.path)).size).toBe(requests.length);

    const second = await buildAll(requests, { cacheDir });
    expect(second.map((result) => result.cached)).toEqual(requests.map(() => true));
    expect(second.map((result) => result.path)).toEqual(first.map((result) => result.path));

    for (const result of first) await expectSeedBinary(result);
  });

  it('builds a key once when asked twice at the same time', async () => {
    const toolchain = toolchains[0]!;
    const otherCache = await mkdtemp(path.join(os.tmpdir(), 'golab-build-race-'));
    try {
      const [a, b] = await Promise.all([
        buildTracee({ tracee: 'seed', toolchain, mode: 'default' }, { cacheDir: otherCache }),
        buildTracee({ tracee: 'seed', toolchain, mode: 'default' }, { cacheDir: otherCache }),
      ]);
      expect(a.path).toBe(b.path);
      const { stdout } = await execa(a.path, [], { stripFinalNewline: false });
      expect(stdout).toBe(SEED_OUTPUT);
    } finally {
      await rm(otherCache, { recursive: true, force: true });
    }
  });

  it('lets two processes build the same key into one cache', async () => {
    const shared = await mkdtemp(path.join(os.tmpdir(), 'golab-build-procs-'));
    try {
      const script = path.join(shared, 'build-once.mts');
      const buildModule = new URL('../../lab/toolchain/build.ts', import.meta.url).href;
      const discoverModule = new URL('../../lab/toolchain/discover.ts', import.meta.url).href;
      await writeFile(
        script,
        `import { buildTracee } from ${JSON.stringify(buildModule)};\n` +
          `import { findToolchain } from ${JSON.stringify(discoverModule)};\n` +
          `const result = await buildTracee({ tracee: 'seed', toolchain: await findToolchain('gccgo'), mode: 'pie' }, { cacheDir: process.argv[2] });\n` +
          `console.log(JSON.stringify({ path: result.path, cached: result.cached }));\n`,
      );
      const tsx = path.resolve('node_modules/.bin/tsx');
      const runs = await Promise.all([execa(tsx, [script, shared]), execa(tsx, [script, shared])]);
      const [a, b] = runs.map((run) => JSON.parse(run.stdout) as { path: string; cached: boolean });
      expect(a!.path).toBe(b!.path);
      const { stdout } = await execa(a!.path, [], { stripFinalNewline: false });
      expect(stdout).toBe(SEED_OUTPUT);
      // No temporary files are left beside the binary.
      expect(await readdir(path.dirname(a!.path))).toEqual(['seed']);
    } finally {
      await rm(shared, { recursive: true, force: true });
    }
  });

  async function expectSeedBinary(result: BuildResult): Promise<void> {
    const { stdout } = await execa(result.path, [], { stripFinalNewline: false });
    expect(stdout, `${result.toolchain.id} ${result.mode}`).toBe(SEED_OUTPUT);
    // gc links a fixed-address executable by default; Debian's GCC makes PIE unless told otherwise.
    const pie = result.mode === 'pie' || result.toolchain.kind === 'gccgo';
    expect(await elfType(result.path), `${result.toolchain.id} ${result.mode} ELF type`).toBe(pie ? 3 : 2);
    expect(await hasSymtab(result.path), `${result.toolchain.id} ${result.mode} .symtab`).toBe(result.mode !== 'stripped');
  }
});
