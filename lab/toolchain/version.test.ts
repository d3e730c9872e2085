import { describe, expect, it } from 'vitest';
import {
  abiFor,
  compareGoVersions,
  formatGoVersion,
  parseGccgoVersionOutput,
  parseGoVersion,
  parseGoVersionOutput,
  parseReleaseTags,
} from './version.ts';

describe('parseGoVersion', () => {
  it('reads releases with and without the go prefix and patch', () => {
    expect(parseGoVersion('go1.19.8')).toEqual({ major: 1, minor: 19, patch: 8 });
    expect(parseGoVersion('1.22')).toEqual({ major: 1, minor: 22 });
    expect(parseGoVersion('go1.21rc2')).toEqual({ major: 1, minor: 21, prerelease: 'rc2' });
    expect(parseGoVersion(' go1.15.15\n')).toEqual({ major: 1, minor: 15, patch: 15 });
  });

  it('rejects what is not a release', () => {
    for (const text of ['', 'unknown', 'devel go1.23-abcdef', 'go1', '1.x', 'gccgo-12']) {
      expect(parseGoVersion(text)).toBeUndefined();
    }
  });

  it('formats back without the prefix', () => {
    for (const text of ['1.19.8', '1.18', '1.21rc2']) expect(formatGoVersion(parseGoVersion(text)!)).toBe(text);
  });
});

describe('compareGoVersions', () => {
  it('orders numerically, pre-releases before the release', () => {
    const sorted = ['1.9', '1.21.0', '1.21rc2', '1.21beta1', '1.15.15', '1.15.2', '1.22']
      .map((text) => parseGoVersion(text)!)
      .sort(compareGoVersions)
      .map(formatGoVersion);
    expect(sorted).toEqual(['1.9', '1.15.2', '1.15.15', '1.21beta1', '1.21rc2', '1.21.0', '1.22']);
  });
});

describe('toolchain output parsing', () => {
  it('reads `go version`', () => {
    expect(parseGoVersionOutput('go version go1.15.15 linux/amd64\n')).toEqual({ major: 1, minor: 15, patch: 15 });
    expect(parseGoVersionOutput('go version unknown linux/amd64')).toBeUndefined();
  });

  it('reads the newest release tag', () => {
    expect(parseReleaseTags('[go1.1 go1.2 go1.9 go1.10 go1.17 go1.18]\n')).toEqual({ major: 1, minor: 18 });
    expect(parseReleaseTags('[]')).toBeUndefined();
  });

  it('reads `gccgo --version`', () => {
    const output = 'gccgo-12 (Debian 12.2.0-14+deb12u1) 12.2.0\nCopyright (C) 2022 Free Software Foundation, Inc.\n';
    expect(parseGccgoVersionOutput(output)).toEqual({
      gccVersion: '12.2.0',
      gccMajor: 12,
      firstLine: 'gccgo-12 (Debian 12.2.0-14+deb12u1) 12.2.0',
    });
    expect(parseGccgoVersionOutput('gccgo: command not found')).toBeUndefined();
  });
});

describe('abiFor', () => {
  it('switches gc to ABIInternal at Go 1.17 and keeps gccgo on SysV', () => {
    expect(abiFor('gc', parseGoVersion('1.15.15')!)).toBe('abi0');
    expect(abiFor('gc', parseGoVersion('1.16.15')!)).toBe('abi0');
    expect(abiFor('gc', parseGoVersion('1.17')!)).toBe('abiinternal');
    expect(abiFor('gc', parseGoVersion('1.27.4')!)).toBe('abiinternal');
    expect(abiFor('gccgo', parseGoVersion('1.18')!)).toBe('sysv');
  });
});
