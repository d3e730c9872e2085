import { describe, expect, it } from 'vitest';
import { isGolabError } from '../errors.ts';
import { distroFamily, installHint } from './install-hint.ts';
import { matchesSpec, parseToolchainSpec, selectToolchain, toolchainOrder } from './spec.ts';
import type { Toolchain } from './types.ts';

function gc(version: string): Toolchain {
  return {
    id: `go${version}`,
    kind: 'gc',
    version,
    goroot: `/usr/lib/go-${version}`,
    goBinary: `/usr/lib/go-${version}/bin/go`,
    abi: 'abiinternal',
    fingerprint: `go version go${version} linux/amd64`,
  };
}

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

const installed = [gc('1.22.12'), gc('1.15.15'), gccgo12, gc('1.22.3'), gc('1.19.8')];

describe('parseToolchainSpec', () => {
  it('reads release lines, exact releases and gccgo', () => {
    expect(parseToolchainSpec('1.15')).toMatchObject({ kind: 'gc', version: { major: 1, minor: 15 } });
    expect(parseToolchainSpec('go1.22.3')).toMatchObject({ kind: 'gc', version: { minor: 22, patch: 3 } });
    expect(parseToolchainSpec('gccgo')).toEqual({ kind: 'gccgo', text: 'gccgo' });
    expect(parseToolchainSpec('gccgo-12')).toEqual({ kind: 'gccgo', gccMajor: 12, text: 'gccgo-12' });
  });

  it('refuses anything else with a usage error', () => {
    for (const text of ['latest', 'go', 'gccgo12', '1', '']) {
      let thrown: unknown;
      try {
        parseToolchainSpec(text);
      } catch (error) {
        thrown = error;
      }
      expect(isGolabError(thrown, 'TOOLCHAIN_SPEC_INVALID')).toBe(true);
    }
  });
});

describe('selectToolchain', () => {
  const pick = (spec: string): string | undefined => selectToolchain(installed, parseToolchainSpec(spec))?.id;

  it('takes the newest patch release of a line', () => {
    expect(pick('1.22')).toBe('go1.22.12');
    expect(pick('go1.22')).toBe('go1.22.12');
    expect(pick('1.15')).toBe('go1.15.15');
  });

  it('takes exactly the release asked for', () => {
    expect(pick('go1.22.3')).toBe('go1.22.3');
    expect(pick('1.19.8')).toBe('go1.19.8');
    expect(pick('1.19.7')).toBeUndefined();
  });

  it('keeps gc and gccgo apart', () => {
    expect(pick('gccgo')).toBe('gccgo-12');
    expect(pick('gccgo-12')).toBe('gccgo-12');
    expect(pick('gccgo-13')).toBeUndefined();
    // gccgo 12 implements Go 1.18, but `1.18` means the gc release line.
    expect(pick('1.18')).toBeUndefined();
    expect(matchesSpec(gccgo12, parseToolchainSpec('1.18'))).toBe(false);
  });

  it('sorts gc by version, then gccgo', () => {
    expect([...installed].sort(toolchainOrder).map((t) => t.id)).toEqual([
      'go1.15.15',
      'go1.19.8',
      'go1.22.3',
      'go1.22.12',
      'gccgo-12',
    ]);
  });
});

describe('installHint', () => {
  it('names the Debian package and its suite', () => {
    expect(installHint(parseToolchainSpec('1.22'), 'debian')).toContain('apt-get install golang-1.22-go/bookworm-backports');
    expect(installHint(parseToolchainSpec('1.15'), 'debian')).toContain('golang-1.15-go/bullseye');
    expect(installHint(parseToolchainSpec('1.27'), 'debian')).toContain('golang-1.27-go/trixie-backports');
    expect(installHint(parseToolchainSpec('gccgo'), 'debian')).toContain('apt-get install gccgo-12/bookworm');
  });

  it('sends exact releases and releases Debian lacks to tarballs', () => {
    expect(installHint(parseToolchainSpec('go1.22.3'), 'debian')).toContain('ask for "1.22" instead');
    expect(installHint(parseToolchainSpec('1.17'), 'debian')).toContain('sudo ./provision/go.sh');
    expect(installHint(parseToolchainSpec('1.22'), 'ubuntu')).toContain('sudo ./provision/go.sh');
  });

  it('recognises the distribution from os-release', () => {
    expect(distroFamily('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')).toBe('debian');
    expect(distroFamily('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n')).toBe('ubuntu');
    expect(distroFamily('ID=pop\nID_LIKE="ubuntu debian"\n')).toBe('ubuntu');
    expect(distroFamily('ID=fedora\n')).toBe('other');
  });
});
