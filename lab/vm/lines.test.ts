import { describe, expect, it } from 'vitest';
import { compareNumbers, parseDepends, parseMadison, parseSearchNames, versionNumbers } from './apt.ts';
import { chooseVersion, imageAbi, imageCandidates, isKernelPackage, kernelLine, kernelLines } from './lines.ts';

// Real output captured from apt-cache on Debian 12 with the extra suites configured.
const MADISON = `linux-image-6.1.0-56-amd64 |  6.1.192-2 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
linux-image-6.1.0-48-amd64 |  6.1.172-1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
linux-image-6.1.0-50-amd64 |  6.1.176-1 | http://deb.debian.org/debian bookworm/main amd64 Packages
linux-image-6.12.117+deb12-amd64 | 6.12.117-1~deb12u1 | http://deb.debian.org/debian bookworm-backports/main amd64 Packages
linux-image-6.12.117+deb13-amd64 | 6.12.117-1 | http://deb.debian.org/debian trixie/main amd64 Packages
linux-image-6.12.90+deb12.1-amd64 | 6.12.90-1~deb12u1 | http://deb.debian.org/debian bookworm-backports/main amd64 Packages
linux-image-7.3.4+deb13-amd64 | 7.3.4-1~bpo13+1 | http://deb.debian.org/debian trixie-backports/main amd64 Packages
linux-image-7.2.12+deb13-amd64 | 7.2.12-1~bpo13+1 | http://deb.debian.org/debian trixie-backports/main amd64 Packages
linux-image-7.10.1+deb13-amd64 | 7.10.1-1~bpo13+1 | http://deb.debian.org/debian trixie-backports/main amd64 Packages
     linux |  6.1.192-2 | http://deb.debian.org/debian-security bookworm-security/main Sources`;

const DEPENDS = `linux-image-7.3.4+deb13-amd64
  PreDepends: linux-base
 |Depends: dracut
 |Depends: initramfs-tools
  Depends: <linux-initramfs-tool>
    dracut
    initramfs-tools
    tiny-initramfs
  Depends: linux-base-7.3.4+deb13-amd64
  Depends: linux-binary-7.3.4+deb13-amd64
  Depends: linux-modules-7.3.4+deb13-amd64
 |Suggests: grub-pc`;

describe('apt-cache parsing', () => {
  it('reads madison rows with their suite and skips source rows', () => {
    const rows = parseMadison(MADISON);
    expect(rows).toHaveLength(9);
    expect(rows[0]).toEqual({ name: 'linux-image-6.1.0-56-amd64', version: '6.1.192-2', suite: 'bookworm-security' });
    expect(rows.some((row) => row.name === 'linux')).toBe(false);
  });

  it('reads names from search output', () => {
    expect(
      parseSearchNames('linux-image-6.1.0-56-amd64 - Linux 6.1 for 64-bit PCs (signed)\nlinux-image-6.12-amd64 - Linux (meta-package)\n'),
    ).toEqual(['linux-image-6.1.0-56-amd64', 'linux-image-6.12-amd64']);
  });

  it('reads hard dependencies, alternatives included, virtual packages and suggestions not', () => {
    expect(parseDepends(DEPENDS)).toEqual([
      'linux-base',
      'dracut',
      'initramfs-tools',
      'linux-base-7.3.4+deb13-amd64',
      'linux-binary-7.3.4+deb13-amd64',
      'linux-modules-7.3.4+deb13-amd64',
    ]);
  });

  it('orders versions by their numbers, so 7.10 is newer than 7.3', () => {
    expect(versionNumbers('7.3.4-1~bpo13+1')).toEqual([7, 3, 4, 1, 13, 1]);
    expect(compareNumbers(versionNumbers('7.10.1-1'), versionNumbers('7.3.4-1'))).toBeGreaterThan(0);
    expect(compareNumbers([6, 1], [6, 1, 0])).toBeLessThan(0);
  });
});

describe('kernel lines', () => {
  it('resolves ids and aliases, and refuses unknown ones with a usage error', () => {
    expect(kernelLine('7.x').id).toBe('7');
    expect(kernelLine('bookworm').id).toBe('6.1');
    expect(() => kernelLine('4.19')).toThrow(/unknown kernel '4.19'/);
    expect(kernelLines('all').map((line) => line.id)).toEqual(['5.10', '6.1', '6.12', '7']);
    expect(kernelLines('6.1,7,6.1').map((line) => line.id)).toEqual(['6.1', '7']);
  });

  it('takes the ABI only from plain -amd64 images of the line', () => {
    const line61 = kernelLine('6.1');
    expect(imageAbi(line61, 'linux-image-6.1.0-56-amd64')).toBe('6.1.0-56');
    expect(imageAbi(line61, 'linux-image-6.1.0-56-rt-amd64')).toBeUndefined();
    expect(imageAbi(line61, 'linux-image-6.1.0-56-cloud-amd64')).toBeUndefined();
    expect(imageAbi(line61, 'linux-image-6.12.117+deb13-amd64')).toBeUndefined();
    expect(imageAbi(kernelLine('6.12'), 'linux-image-6.12-amd64')).toBeUndefined();
    expect(imageAbi(kernelLine('6.12'), 'linux-image-6.12.90+deb12.1-amd64')).toBe('6.12.90+deb12.1');
    expect(imageAbi(kernelLine('7'), 'linux-image-7.3.4+deb13-amd64')).toBe('7.3.4+deb13');
  });

  it('picks the newest image from the line suites only', () => {
    const rows = parseMadison(MADISON);
    expect(imageCandidates(kernelLine('6.1'), rows).map((c) => c.release)).toEqual([
      '6.1.0-56-amd64',
      '6.1.0-50-amd64',
      '6.1.0-48-amd64',
    ]);
    // bookworm-backports' +deb12 builds are not trixie's 6.12.
    expect(imageCandidates(kernelLine('6.12'), rows).map((c) => c.release)).toEqual(['6.12.117+deb13-amd64']);
    expect(imageCandidates(kernelLine('7'), rows)[0]).toEqual({
      name: 'linux-image-7.10.1+deb13-amd64',
      abi: '7.10.1+deb13',
      release: '7.10.1+deb13-amd64',
      version: '7.10.1-1~bpo13+1',
      suite: 'trixie-backports',
    });
    expect(imageCandidates(kernelLine('5.10'), rows)).toEqual([]);
  });

  it('keeps kernel parts and drops the tools a kernel package depends on', () => {
    expect(
      ['linux-binary-7.3.4+deb13-amd64', 'linux-kbuild-6.1', 'linux-headers-6.1.0-56-common', 'linux-base-7.3.4+deb13-amd64'].every(
        isKernelPackage,
      ),
    ).toBe(true);
    expect(
      ['linux-base', 'kmod', 'initramfs-tools', 'linux-image-6.12.117+deb13-amd64-unsigned', 'linux-compiler-gcc-12-x86'].some(
        isKernelPackage,
      ),
    ).toBe(false);
  });

  it("prefers the image's own version for its companions", () => {
    const line = kernelLine('6.1');
    const rows = [
      { name: 'linux-kbuild-6.1', version: '6.1.192-2', suite: 'bookworm-security' },
      { name: 'linux-kbuild-6.1', version: '6.1.176-1', suite: 'bookworm' },
      { name: 'linux-kbuild-6.1', version: '6.1.200-1', suite: 'bookworm-backports' },
    ];
    expect(chooseVersion(line, '6.1.176-1', rows)?.version).toBe('6.1.176-1');
    expect(chooseVersion(line, '6.1.999-1', rows)?.version).toBe('6.1.192-2');
    expect(chooseVersion(line, '6.1.176-1', rows.slice(2))).toBeUndefined();
  });
});
