import { describe, expect, it } from 'vitest';
import { parseLdd } from './docker-image.ts';
import { defaultDockerSocket } from './docker.ts';

describe('parseLdd', () => {
  it('lists the libraries and the loader a dynamic executable needs', () => {
    const output = [
      '\tlinux-vdso.so.1 (0x00007ffd5f3f2000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f000bd7a000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f000bf70000)',
      '',
    ].join('\n');
    expect(parseLdd(output)).toEqual(['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });

  it('finds nothing in a static executable', () => {
    expect(parseLdd('\tnot a dynamic executable\n')).toEqual([]);
  });
});

describe('defaultDockerSocket', () => {
  it('follows a unix DOCKER_HOST and ignores tcp ones', () => {
    expect(defaultDockerSocket({})).toBe('/var/run/docker.sock');
    expect(defaultDockerSocket({ DOCKER_HOST: 'unix:///tmp/d/docker.sock' })).toBe('/tmp/d/docker.sock');
    expect(defaultDockerSocket({ DOCKER_HOST: 'tcp://10.0.0.1:2375' })).toBe('/var/run/docker.sock');
  });
});
