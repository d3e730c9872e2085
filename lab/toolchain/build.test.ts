import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArguments, buildEnvironment, buildSettings, defaultCacheDir, traceeDir } from './build.ts';
import { buildCacheKey, hashSourceTree, isBuildInput, type BuildKeyInputs } from './cache-key.ts';
import type { Toolchain } from './types.ts';

const go115: Toolchain = {
  id: 'go1.15.15',
  kind: 'gc',
  version: '1.15.15',
  goroot: '/usr/lib/go-1.15',
  goBinary: '/usr/lib/go-1.15/bin/go',
  abi: 'abi0',
  fingerprint: 'go version go1.15.15 linux/amd64',
};
const go122: Toolchain = { ...go115, id: 'go1.22.12', version: '1.22.12', abi: 'abiinternal', goBinary: '/usr/lib/go-1.22/bin/go' };
const gccgo12: Toolchain = {
  id: 'gccgo-12',
  kind: 'gccgo',
  version: '1.18',
  goBinary: '/usr/bin/go-12',
  abi: 'sysv',
  gccgoBinary: '/usr/bin/x86_64-linux-gnu-gccgo-12',
  compilerVersion: '12.2.0',
  fingerprint: 'gccgo-12 (Debian 12.2.0-14+deb12u1) 12.2.0',
};

describe('buildArguments', () => {
  it('gives gc the mode flags, and -buildvcs=false only where it exists (≥ 1.18)', () => {
    expect(buildArguments(go115, 'default')).toEqual(['build']);
    expect(buildArguments(go115, 'pie')).toEqual(['build', '-buildmode=pie']);
    expect(buildArguments(go115, 'stripped')).toEqual(['build', '-ldflags=-s -w']);
    expect(buildArguments(go122, 'stripped')).toEqual(['build', '-buildvcs=false', '-ldflags=-s -w']);
  });

  it('builds gccgo at -O1 and strips through gccgoflags', () => {
    expect(buildArguments(gccgo12, 'default')).toEqual(['build', '-buildvcs=false', '-gccgoflags=-g -O1']);
    expect(buildArguments(gccgo12, 'pie')).toEqual(['build', '-buildvcs=false', '-gccgoflags=-g -O1', '-buildmode=pie']);
    expect(buildArguments(gccgo12, 'stripped')).toEqual(['build', '-buildvcs=false', '-gccgoflags=-g -O1 -s']);
  });

  it('applies the readers\' tweaks: stripped and externally linked PIE, gccgo -O0 and extra flags', () => {
    expect(buildArguments(go122, 'pie', { strip: true })).toEqual(['build', '-buildvcs=false', '-buildmode=pie', '-ldflags=-s -w']);
    expect(buildArguments(go122, 'pie', { externalLink: true, strip: true })).toEqual(['build', '-buildvcs=false', '-buildmode=pie', '-ldflags=-linkmode=external -s -w']);
    expect(buildArguments(gccgo12, 'default', { gccgoOptimization: 0, gccgoFlags: ['-fcf-protection=full'] })).toEqual(['build', '-buildvcs=false', '-gccgoflags=-g -O0 -fcf-protection=full']);
    expect(buildArguments(gccgo12, 'pie', { strip: true })).toEqual(['build', '-buildvcs=false', '-gccgoflags=-g -O1 -s', '-buildmode=pie']);
    // The external linker is a C toolchain: cgo must be on for it.
    expect(buildSettings(go122, { externalLink: true }).CGO_ENABLED).toBe('1');
    expect(buildSettings(go122).CGO_ENABLED).toBe('0');
  });
});

describe('buildEnvironment', () => {
  it('inherits only PATH, HOME and TMPDIR, and pins the go settings', () => {
    const env = buildEnvironment(go122, '/cache', { PATH: '/bin', HOME: '/root', GOROOT: '/elsewhere', GOARCH: 'arm64', GOFLAGS: '-race' });
    expect(env).toEqual({
      PATH: '/bin',
      HOME: '/root',
      LANG: 'C',
      GOCACHE: '/cache/gocache/go1.22.12',
      GOPATH: '/cache/gopath',
      GO111MODULE: 'on',
      GOFLAGS: '-mod=mod',
      GOTOOLCHAIN: 'local',
      GOENV: 'off',
      GOWORK: 'off',
      GOPROXY: 'off',
      CGO_ENABLED: '0',
    });
  });

  it('sets HOME when it is unset, and enables cgo for gccgo', () => {
    const env = buildEnvironment(gccgo12, '/cache', { PATH: '/bin' });
    expect(env.HOME).toBe('/cache');
    expect(env.CGO_ENABLED).toBe('1');
    expect(buildSettings(go115).CGO_ENABLED).toBe('0');
  });

  it('takes the cache directory from GOLAB_CACHE', () => {
    expect(defaultCacheDir({})).toBe('/var/cache/go-ebpf-lab/builds');
    expect(defaultCacheDir({ GOLAB_CACHE: '/tmp/x' })).toBe('/tmp/x');
    expect(traceeDir('seed')).toMatch(/\/tracee\/seed$/);
  });
});

describe('buildCacheKey', () => {
  const base: BuildKeyInputs = {
    sourceDigest: 'a'.repeat(64),
    toolchainId: 'go1.22.12',
    goBinary: '/usr/lib/go-1.22/bin/go',
    fingerprint: 'go version go1.22.12 linux/amd64',
    mode: 'default',
    args: ['build', '-buildvcs=false'],
    env: { CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
  };

  it('is stable, and independent of env key order', () => {
    expect(buildCacheKey(base)).toBe(buildCacheKey({ ...base }));
    expect(buildCacheKey(base)).toBe(buildCacheKey({ ...base, env: { GOFLAGS: '-mod=mod', CGO_ENABLED: '0' } }));
    expect(buildCacheKey(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with every input', () => {
    const variants: BuildKeyInputs[] = [
      { ...base, sourceDigest: 'b'.repeat(64) },
      { ...base, toolchainId: 'go1.22.11' },
      { ...base, goBinary: '/usr/local/lib/go-1.22/bin/go' },
      { ...base, fingerprint: 'go version go1.22.12 X:nocoverageredesign linux/amd64' },
      { ...base, mode: 'pie' },
      { ...base, args: ['build', '-buildvcs=false', '-buildmode=pie'] },
      { ...base, env: { CGO_ENABLED: '1', GOFLAGS: '-mod=mod' } },
    ];
    const keys = new Set([base, ...variants].map(buildCacheKey));
    expect(keys.size).toBe(variants.length + 1);
  });
});

describe('hashSourceTree', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'golab-hash-'));
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'go.mod'), 'module x\n\ngo 1.15\n');
    await writeFile(path.join(dir, 'main.go'), 'package main\n\nfunc main() {}\n');
    await writeFile(path.join(dir, 'sub', 'b.go'), 'package sub\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('changes when a build input changes, not when a helper or prose does', async () => {
    const before = await hashSourceTree(dir);
    expect(await hashSourceTree(dir)).toBe(before);
    await writeFile(path.join(dir, 'output.ts'), 'export {};\n');
    await writeFile(path.join(dir, 'README.md'), '# zoo\n');
    await writeFile(path.join(dir, 'main_test.go'), 'package main\n');
    await writeFile(path.join(dir, 'seed'), 'a stray binary');
    expect(await hashSourceTree(dir)).toBe(before);
    await writeFile(path.join(dir, 'sub', 'b.go'), 'package sub // edited\n');
    const edited = await hashSourceTree(dir);
    expect(edited).not.toBe(before);
    await writeFile(path.join(dir, 'sub', 'c.go'), '');
    expect(await hashSourceTree(dir)).not.toBe(edited);
  });

  it('counts a renamed file as a change', async () => {
    const before = await hashSourceTree(dir);
    await rm(path.join(dir, 'sub', 'c.go'));
    await writeFile(path.join(dir, 'sub', 'd.go'), '');
    expect(await hashSourceTree(dir)).not.toBe(before);
  });

  it('selects build inputs', () => {
    expect(isBuildInput('main.go')).toBe(true);
    expect(isBuildInput('go.sum')).toBe(true);
    expect(isBuildInput('asm_amd64.s')).toBe(true);
    expect(isBuildInput('output.ts')).toBe(false);
    expect(isBuildInput('main_test.go')).toBe(false);
    expect(isBuildInput('.git/HEAD')).toBe(false);
    expect(isBuildInput('zoo')).toBe(false); // a stray `go build` output
    expect(isBuildInput('main.go~')).toBe(false);
    expect(isBuildInput('vendor/modules.txt')).toBe(true);
    expect(isBuildInput('testdata/x.go')).toBe(false);
  });
});
