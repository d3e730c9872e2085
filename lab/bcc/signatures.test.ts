import { describe, expect, it } from 'vitest';
import { compareVersions, selectApiLevel, versionFromFileName } from './signatures.ts';

/** Export sets of real releases, reduced to the probed symbols (bcc-api.md §1). */
const releases: Record<string, string[]> = {
  '0.18': ['bpf_module_create_b', 'bpf_new_ringbuf'],
  '0.23': ['bpf_module_create_b', 'bpf_new_ringbuf'],
  '0.24': ['bpf_new_ringbuf', 'bpf_open_perf_buffer_opts', 'perf_reader_consume'],
  '0.26': ['bpf_new_ringbuf', 'bpf_open_perf_buffer_opts', 'perf_reader_consume', '__so_calc_global_addr'],
  '0.31': [
    'bpf_new_ringbuf',
    'bpf_open_perf_buffer_opts',
    'perf_reader_consume',
    '__so_calc_global_addr',
    'bcc_zip_archive_open',
    'bcc_procutils_which_so_in_process',
  ],
};

const levelOf = (release: string) => {
  const symbols = new Set(releases[release]);
  return selectApiLevel((name) => symbols.has(name));
};

describe('selectApiLevel', () => {
  it.each([
    ['0.18', 11, false, '0.16'],
    ['0.23', 11, false, '0.16'],
    ['0.24', 11, true, '0.24'],
    ['0.26', 12, true, '0.25'],
    ['0.31', 12, true, '0.31'],
  ] as const)('bcc %s: bcc_func_load takes %i arguments, perf opts %s, dated %s', (release, arity, opts, minimum) => {
    const level = levelOf(release);
    expect(level.funcLoadArity).toBe(arity);
    expect(level.perfBufferOpts).toBe(opts);
    expect(level.perfReaderConsume).toBe(opts);
    expect(level.ringBuffer).toBe(true);
    expect(level.minimumVersion).toBe(minimum);
  });
});

describe('versionFromFileName', () => {
  it('reads the release from the real file name', () => {
    expect(versionFromFileName('/usr/lib/x86_64-linux-gnu/libbcc.so.0.26.0')).toBe('0.26.0');
    expect(versionFromFileName('/usr/lib/libbcc.so.0.23.0')).toBe('0.23.0');
  });
  it('gives nothing for a name without a release', () => {
    expect(versionFromFileName('/usr/lib/libbcc.so.0')).toBeUndefined();
  });
});

describe('compareVersions', () => {
  it('compares numerically, not as text', () => {
    expect(compareVersions('0.9', '0.25')).toBeLessThan(0);
    expect(compareVersions('0.25', '0.25.0')).toBe(0);
    expect(compareVersions('1.0', '0.31')).toBeGreaterThan(0);
  });
});
