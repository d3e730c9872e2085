/**
 * A deterministic mutation fuzzer for the lab/elf readers. It damages real Go binaries (bit
 * flips, byte sets, truncations, oversized counts and offsets written into header fields) and
 * checks that every reader ends in a result or a {@link GolabError}, within a time bound.
 * Anything else (a TypeError, a RangeError, an out-of-memory, a hang) is a reader bug; the
 * case's seed reproduces it exactly.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GolabError } from '../errors.ts';
import { readBuildInfo } from './buildinfo.ts';
import { readDwarf } from './dwarf.ts';
import { ElfFile } from './file.ts';
import { findFunction, listGoFunctions } from './functions.ts';
import { readPclntab } from './pclntab.ts';
import { type BuildDir, installedToolchains, testProgram } from './test-support.ts';

/** An unmutated binary the fuzzer starts from. */
export interface FuzzSeed {
  readonly name: string;
  readonly data: Buffer;
  /** Where it was built, when it is a file. */
  readonly path?: string;
}

/** What one case did. */
export interface FuzzCaseReport {
  /** Index of the case in its run. */
  readonly index: number;
  /** The PRNG seed of this case: `fuzz-cli --replay <caseSeed>` repeats it. */
  readonly caseSeed: number;
  /** Name of the seed binary it mutated. */
  readonly seedName: string;
  /** The mutations applied, in order. */
  readonly mutations: readonly string[];
  /** Per reader: 'ok' or the GolabError code it ended in. */
  readonly outcomes: Readonly<Record<string, string>>;
  /** Set when a reader threw something other than a GolabError, or ran over the time bound. */
  readonly failure: string | undefined;
  /** Wall time of the whole case. */
  readonly ms: number;
  /**
   * CPU time of the case (user + system). The time bound applies to this: on a shared 2-core
   * machine, wall time also measures everyone else's load.
   */
  readonly cpuMs: number;
}

/** Totals of a run. */
export interface FuzzSummary {
  readonly cases: number;
  /** Cases in which every reader returned a result. */
  readonly results: number;
  /** Cases in which at least one reader ended in a typed error. */
  readonly typed: number;
  /** Typed errors by code, over all readers. */
  readonly codes: Readonly<Record<string, number>>;
  readonly failures: readonly FuzzCaseReport[];
  readonly maxMs: number;
  /** Case seed of the case with the largest CPU time. */
  readonly maxMsCase: number;
  readonly maxCpuMs: number;
  readonly totalMs: number;
}

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  readonly cases: number;
  /** The run's seed; case i uses {@link caseSeedOf}(seed, i). */
  readonly seed: number;
  /** A case that takes more CPU time than this fails (default 2000 ms). */
  readonly timeBoundMs?: number;
  /** Called before each case (the CLI's hang watchdog listens to it). */
  readonly onCaseStart?: (index: number, caseSeed: number) => void;
  /** Called after each case. */
  readonly onCase?: (report: FuzzCaseReport) => void;
}

/** mulberry32: a small, fast, well-distributed 32-bit PRNG; the same seed gives the same cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The PRNG seed of case `index` of a run seeded with `runSeed`. */
export function caseSeedOf(runSeed: number, index: number): number {
  return (Math.imul(runSeed >>> 0, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

/** Byte ranges worth aiming at: headers and the sections the readers decode. */
interface Region {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

const targetSections = [
  '.gopclntab', '.data.rel.ro.gopclntab', '.go.buildinfo', '.symtab', '.strtab', '.shstrtab', '.rela', '.rela.dyn', '.dynamic',
  '.debug_info', '.debug_abbrev', '.debug_str', '.debug_loc', '.debug_loclists', '.debug_addr', '.debug_ranges', '.debug_rnglists',
  '.zdebug_info', '.zdebug_abbrev', '.zdebug_loc', '.go.module', '.noptrdata',
];

const regionCache = new WeakMap<Buffer, Region[]>();

function regionsOf(data: Buffer): Region[] {
  const cached = regionCache.get(data);
  if (cached) return cached;
  const elf = ElfFile.parse(data);
  const regions: Region[] = [{ name: 'ehdr', start: 0, end: 64 }];
  const phoff = Number(data.readBigUInt64LE(32));
  const shoff = Number(data.readBigUInt64LE(40));
  regions.push({ name: 'phdrs', start: phoff, end: phoff + 56 * elf.segments.length });
  regions.push({ name: 'shdrs', start: shoff, end: shoff + 64 * elf.sections.length });
  for (const s of elf.sections) {
    if (targetSections.includes(s.name) && s.type !== 8 && s.size > 0) regions.push({ name: s.name, start: s.offset, end: s.offset + s.size });
  }
  regionCache.set(data, regions);
  return regions;
}

/** Field values chosen to break size and offset arithmetic. */
const nasty64 = [0xffffffffffffffffn, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffn, 0x100000000n, 0x7fffffffn, 0x10000000n, 0x1000000n, 0n, 1n];
const nasty32 = [0xffffffff, 0x7fffffff, 0x80000000, 0xfffffff0, 0x10000000, 0x1000000, 0xffff, 0, 1];
const nastyBytes = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];

/**
 * Applies 1–4 random mutations to a copy of `seed`. Returns the mutated bytes and a list of
 * what was done (printed with failures).
 */
export function mutate(seed: Buffer, caseSeed: number): { data: Buffer; mutations: string[] } {
  const rand = prng(caseSeed);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const regions = regionsOf(seed);
  let data = Buffer.from(seed);
  const mutations: string[] = [];
  const count = 1 + int(4);
  for (let m = 0; m < count; m++) {
    // Aim at a structure half of the time; else anywhere in the file.
    const region = rand() < 0.6 ? pick(regions) : { name: 'file', start: 0, end: data.length };
    const start = Math.min(region.start, data.length);
    const end = Math.min(region.end, data.length);
    if (end - start < 1) continue;
    // Headers sit at the start of their region: aim there more often.
    const span = rand() < 0.5 ? Math.min(end - start, 128) : end - start;
    const at = start + int(span);
    const op = int(10);
    if (op <= 2) {
      const flips = 1 + int(8);
      for (let i = 0; i < flips; i++) {
        const pos = Math.min(at + int(16), data.length - 1);
        data[pos] = data[pos]! ^ (1 << int(8));
      }
      mutations.push(`flip ${flips} bits near ${region.name}+${at - start}`);
    } else if (op <= 4) {
      const n = 1 + int(4);
      for (let i = 0; i < n && at + i < data.length; i++) data[at + i] = pick(nastyBytes);
      mutations.push(`set ${n} bytes at ${region.name}+${at - start}`);
    } else if (op <= 6) {
      const aligned = start + ((at - start) & ~7);
      if (aligned + 8 > data.length) continue;
      const v = pick(nasty64);
      data.writeBigUInt64LE(v, aligned);
      mutations.push(`u64 0x${v.toString(16)} at ${region.name}+${aligned - start}`);
    } else if (op <= 8) {
      const aligned = start + ((at - start) & ~3);
      if (aligned + 4 > data.length) continue;
      const v = pick(nasty32);
      data.writeUInt32LE(v, aligned);
      mutations.push(`u32 0x${v.toString(16)} at ${region.name}+${aligned - start}`);
    } else if (rand() < 0.5) {
      const length = int(data.length);
      data = data.subarray(0, length);
      mutations.push(`truncate to ${length}`);
    } else {
      // A run of continuation bytes: an endless LEB128 or varint.
      const n = 2 + int(20);
      for (let i = 0; i < n && at + i < data.length; i++) data[at + i] = 0x80 | int(128);
      mutations.push(`leb run of ${n} at ${region.name}+${at - start}`);
    }
  }
  return { data, mutations };
}

/** Runs every reader on `data`; returns per-reader outcomes and the first non-typed failure. */
export function exerciseReaders(data: Buffer, label: string): { outcomes: Record<string, string>; failure: string | undefined } {
  const outcomes: Record<string, string> = {};
  let failure: string | undefined;
  const step = (name: string, fn: () => unknown): void => {
    try {
      fn();
      outcomes[name] = 'ok';
    } catch (error) {
      if (error instanceof GolabError) outcomes[name] = error.code;
      else {
        outcomes[name] = 'CRASH';
        failure ??= `${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
      }
    }
  };
  let elf: ElfFile | undefined;
  step('parse', () => {
    elf = ElfFile.parse(data, label);
  });
  if (!elf) return { outcomes, failure };
  const e = elf;
  step('buildinfo', () => readBuildInfo(e));
  step('pclntab', () => readPclntab(e));
  step('symbols', () => e.symbols());
  step('functions', () => listGoFunctions(e));
  step('find', () => findFunction(e, 'main.ebpfDemo'));
  step('dwarf', () => {
    const dwarf = readDwarf(e);
    // Decode parameters (types and location lists) of a slice of functions, main's first.
    const fns = [...dwarf.functions.filter((f) => f.name.startsWith('main.')), ...dwarf.functions.slice(0, 150)];
    for (const f of fns) {
      for (const p of f.params) {
        const t = p.type;
        if (t?.kind === 'pointer') void t.elem;
      }
    }
  });
  return { outcomes, failure };
}

/** Mutates one seed and runs every reader on it. */
export function runCase(seeds: readonly FuzzSeed[], index: number, caseSeed: number, timeBoundMs = 2000): FuzzCaseReport {
  const seed = seeds[caseSeed % seeds.length]!;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const { data, mutations } = mutate(seed.data, caseSeed);
  const { outcomes, failure } = exerciseReaders(data, `${seed.name}#${caseSeed}`);
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const ms = performance.now() - t0;
  const slow = cpuMs > timeBoundMs ? `took ${cpuMs.toFixed(0)} ms of CPU (${ms.toFixed(0)} ms wall), over the ${timeBoundMs} ms bound` : undefined;
  return { index, caseSeed, seedName: seed.name, mutations, outcomes, failure: failure ?? slow, ms, cpuMs };
}

/** Runs `cases` cases and totals them. */
export function runFuzz(seeds: readonly FuzzSeed[], options: FuzzOptions): FuzzSummary {
  const codes: Record<string, number> = {};
  const failures: FuzzCaseReport[] = [];
  let results = 0;
  let typed = 0;
  let maxMs = 0;
  let maxCpuMs = 0;
  let maxMsCase = 0;
  let totalMs = 0;
  for (let i = 0; i < options.cases; i++) {
    const caseSeed = caseSeedOf(options.seed, i);
    options.onCaseStart?.(i, caseSeed);
    const report = runCase(seeds, i, caseSeed, options.timeBoundMs);
    const errorCodes = Object.values(report.outcomes).filter((o) => o !== 'ok' && o !== 'CRASH');
    for (const c of errorCodes) codes[c] = (codes[c] ?? 0) + 1;
    if (report.failure) failures.push(report);
    else if (errorCodes.length === 0) results++;
    else typed++;
    maxMs = Math.max(maxMs, report.ms);
    if (report.cpuMs > maxCpuMs) {
      maxCpuMs = report.cpuMs;
      maxMsCase = report.caseSeed;
    }
    totalMs += report.ms;
    options.onCase?.(report);
  }
  return { cases: options.cases, results, typed, codes, failures, maxMs, maxMsCase, maxCpuMs, totalMs };
}

/** One line: cases, results, typed errors by code, failures, max CPU and wall time, mean wall time. */
export function formatSummary(s: FuzzSummary): string {
  const byCode = Object.entries(s.codes)
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c}=${n}`)
    .join(' ');
  return `fuzz: ${s.cases} cases, ${s.results} all-results, ${s.typed} with typed errors [${byCode}], ${s.failures.length} failures, max ${s.maxCpuMs.toFixed(0)} ms CPU (case seed ${s.maxMsCase}), max ${s.maxMs.toFixed(0)} ms wall, mean ${(s.totalMs / Math.max(1, s.cases)).toFixed(1)} ms wall`;
}

/** How to reproduce a failure, for the failure printout. */
export function describeFailure(r: FuzzCaseReport): string {
  return `case ${r.index} (seed binary ${r.seedName}, case seed ${r.caseSeed}; replay: node --import tsx lab/elf/fuzz-cli.ts --replay ${r.caseSeed}):\n  mutations: ${r.mutations.join('; ')}\n  ${r.failure}`;
}

/**
 * Builds the seed corpus into `builds`: small real Go programs from several toolchains in the
 * shapes the readers meet (default, stripped, PIE; zlib-compressed and plain DWARF 4 and 5;
 * pointer and inline build info; every pclntab layout installed) plus gccgo.
 */
export async function buildCorpus(builds: BuildDir): Promise<FuzzSeed[]> {
  const seeds: FuzzSeed[] = [];
  // Small on purpose (no fmt): parsing cost per case is mostly DWARF size.
  const src = testProgram('fuzzseed', {
    'main.go': `package main

//go:noinline
func ebpfDemo(a1 int, a2 bool, a3 float32) (r1 int64, r2 int32, r3 string) {
	println(a1, a2, a3)
	return 100, 200, "test for ebpf"
}

func main() {
	r1, r2, r3 := ebpfDemo(100, true, 66.88)
	println(r1, r2, r3)
}
`,
  });
  const add = (name: string, path: string): void => {
    seeds.push({ name, data: readFileSync(path), path });
  };
  const plain = (path: string, name: string): string => {
    const out = join(builds.dir, `${name}-plain`);
    execFileSync('objcopy', ['--decompress-debug-sections', path, out]);
    return out;
  };
  const wanted = [15, 19, 21, 26, 27];
  for (const tc of installedToolchains().filter((t) => wanted.includes(t.minor))) {
    const def = await builds.go(tc, 'default', src);
    add(`go1.${tc.minor}`, def);
    add(`go1.${tc.minor}-plain-dwarf`, plain(def, `go1.${tc.minor}`));
    if (tc.minor === 15 || tc.minor === 27) add(`go1.${tc.minor}-pie`, await builds.go(tc, 'pie', src));
    if (tc.minor === 21 || tc.minor === 26) add(`go1.${tc.minor}-stripped`, await builds.go(tc, 'stripped', src));
  }
  const gccgo = await builds.gccgo(src);
  if (gccgo) add('gccgo-12', gccgo);
  return seeds;
}
