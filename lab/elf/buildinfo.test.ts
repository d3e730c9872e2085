import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBuildInfo } from './buildinfo.ts';
import { ElfFile } from './file.ts';
import { goVersionOf } from './functions.ts';
import { BuildDir, installedToolchains } from './test-support.ts';

describe('readBuildInfo', () => {
  const builds = new BuildDir();
  const toolchains = installedToolchains();
  const bins = new Map<string, string>();
  let gccgo: string | undefined;

  beforeAll(async () => {
    const wanted = toolchains.flatMap((tc) => (['default', 'pie'] as const).map((v) => [tc, v] as const));
    const paths = await builds.goAll(wanted);
    wanted.forEach(([tc, v], i) => bins.set(`${tc.minor}-${v}`, paths[i]!));
    gccgo = await builds.gccgo();
  }, 900_000);
  afterAll(() => builds.remove());

  it('has the toolchains the matrix needs', () => {
    expect(toolchains.map((t) => t.minor)).toEqual(expect.arrayContaining([15, 19, 21, 26, 27]));
  });

  for (const variant of ['default', 'pie'] as const) {
    it.each(installedToolchains().map((t) => [t.version, t.minor] as const))(`reads %s's version from a ${variant} build`, (version, minor) => {
      const info = readBuildInfo(ElfFile.open(bins.get(`${minor}-${variant}`)!));
      expect(info.goVersion).toBe(version);
      expect(info.format).toBe(minor < 18 ? 'pointer' : 'inline');
      expect(info.pointerSize).toBe(8);
      expect(info.modinfo).toMatch(/^path\tgolab\/seed\nmod\tgolab\/seed\t/);
    });
  }

  it('agrees with `go version -m` of the binary', () => {
    const tc = toolchains.at(-1)!;
    const path = bins.get(`${tc.minor}-default`)!;
    const printed = execFileSync(tc.go, ['version', '-m', path], { encoding: 'utf8' });
    const info = readBuildInfo(ElfFile.open(path));
    expect(printed.split('\n')[0]).toBe(`${path}: ${info.goVersion}`);
    expect(printed).toContain(`\tmod\tgolab/seed\t`);
  });

  it.each([15, 19, 27])('falls back to the first writable segment without a .go.buildinfo section (go1.%i)', (minor) => {
    const data = Buffer.from(readFileSync(bins.get(`${minor}-default`)!));
    const at = data.indexOf('.go.buildinfo\0', 0, 'latin1');
    data.write('.xx', at, 'latin1'); // rename the section: only the segment remains
    const elf = ElfFile.parse(data);
    expect(elf.section('.go.buildinfo')).toBeUndefined();
    expect(readBuildInfo(elf).goVersion).toBe(toolchains.find((t) => t.minor === minor)!.version);
  });

  it('gives GO_NO_BUILDINFO for gccgo, and goVersionOf falls back to DWARF (none for gccgo)', () => {
    if (!gccgo) return;
    const elf = ElfFile.open(gccgo);
    expect(() => readBuildInfo(elf)).toThrowError(expect.objectContaining({ code: 'GO_NO_BUILDINFO' }));
    expect(goVersionOf(elf)).toBeUndefined();
  });

  it('goVersionOf reads the DWARF producer when the build info is gone', () => {
    const tc = toolchains.find((t) => t.minor === 19)!;
    const data = Buffer.from(readFileSync(bins.get('19-default')!));
    // Damage the magic: now only DWARF knows the version.
    for (let at = data.indexOf('\xff Go buildinf:', 0, 'latin1'); at >= 0; at = data.indexOf('\xff Go buildinf:', at + 1, 'latin1')) data[at + 1] = 0x58;
    const elf = ElfFile.parse(data);
    expect(() => readBuildInfo(elf)).toThrowError(expect.objectContaining({ code: 'GO_NO_BUILDINFO' }));
    expect(goVersionOf(elf)).toBe(tc.version);
  });
});
