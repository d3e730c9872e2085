import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ElfFile } from '../elf/file.ts';
import { findFunction, functionBytes, listGoFunctions } from '../elf/functions.ts';
import { buildTracee } from '../toolchain/build.ts';
import { discoverToolchains } from '../toolchain/discover.ts';
import { findFirstStore, findFirstXmmSpill, findReturnOffsets } from './disasm.ts';

const run = promisify(execFile);
// Builds go through lab/toolchain's cache (the zoo builds are the ones test/zoo.test.ts traces).
const toolchains = await discoverToolchains();
const go119 = toolchains.find((t) => t.kind === 'gc' && /^1\.19(\.|$)/.test(t.version));
const gccgo = toolchains.find((t) => t.kind === 'gccgo');

/** RET addresses of [start, start+size) as objdump prints them: an independent disassembler. */
async function objdumpReturns(binary: string, start: number, size: number): Promise<number[]> {
  const { stdout } = await run(
    'objdump',
    ['-d', '--no-show-raw-insn', `--start-address=0x${start.toString(16)}`, `--stop-address=0x${(start + size).toString(16)}`, binary],
    { maxBuffer: 64 << 20 },
  );
  const rets: number[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^\s*([0-9a-f]+):\s+(?:bnd |notrack |rep[z]? )?retq?\b(?!f)/.exec(line);
    if (match !== null) rets.push(parseInt(match[1] as string, 16));
  }
  return rets;
}

const bytes = (...values: number[]): Buffer => Buffer.from(values);

describe('findReturnOffsets on synthetic code', () => {
  it('decodes through ENDBR64 and stops quietly in INT3 padding and undecodable bytes', () => {
    // endbr64; push rbp; mov rbp,rsp; pop rbp; ret; int3 ×3; 0x06 (invalid in 64-bit mode)
    const code = bytes(0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5, 0x5d, 0xc3, 0xcc, 0xcc, 0xcc, 0x06);
    expect(findReturnOffsets(code, 0x1000)).toEqual([0x1009]);
  });

  it('returns every RET, including RET imm16, and no far returns', () => {
    // ret; ret 8; retf; ret
    const code = bytes(0xc3, 0xc2, 0x08, 0x00, 0xcb, 0xc3);
    expect(findReturnOffsets(code, 0x400000)).toEqual([0x400000, 0x400001, 0x400005]);
  });

  it('handles an empty buffer and a truncated last instruction', () => {
    expect(findReturnOffsets(Buffer.alloc(0), 0x1000)).toEqual([]);
    expect(findReturnOffsets(bytes(0xc3, 0x48, 0x89), 0x1000)).toEqual([0x1000]);
  });
});

describe('findFirstXmmSpill on synthetic code', () => {
  it('follows PUSH and SUB RSP to convert [RSP+d] to an entry-relative offset', () => {
    // push rbp; sub rsp,0x20; movsd [rsp+0x30],xmm1
    const code = bytes(0x55, 0x48, 0x83, 0xec, 0x20, 0xf2, 0x0f, 0x11, 0x4c, 0x24, 0x30);
    expect(findFirstXmmSpill(code, 0x1000, 1)).toEqual({ vaddr: 0x1005, probeVaddr: 0x100b, spOffsetAtEntry: 8, entrySpDelta: 0x28, size: 8 });
    expect(findFirstXmmSpill(code, 0x1000, 0)).toBeUndefined();
  });

  it('follows RBP frames: push rbp; mov rbp,rsp; movss [rbp-0x14],xmm0', () => {
    const code = bytes(0x55, 0x48, 0x89, 0xe5, 0xf3, 0x0f, 0x11, 0x45, 0xec);
    expect(findFirstXmmSpill(code, 0x2000, 0)).toEqual({ vaddr: 0x2004, probeVaddr: 0x2009, spOffsetAtEntry: -0x1c, entrySpDelta: 8, size: 4 });
  });

  it('finds integer register stores of any width (gccgo -O0 home slots)', () => {
    // push rbp; mov rbp,rsp; mov [rbp-0x11],dil; mov [rbp-0x20],rsi; mov eax,edx; mov [rbp-0x24],eax
    const code = bytes(0x55, 0x48, 0x89, 0xe5, 0x40, 0x88, 0x7d, 0xef, 0x48, 0x89, 0x75, 0xe0, 0x89, 0xd0, 0x89, 0x45, 0xdc);
    expect(findFirstStore(code, 0x3000, { int: 'di' })).toEqual({ vaddr: 0x3004, probeVaddr: 0x3008, spOffsetAtEntry: -0x19, entrySpDelta: 8, size: 1 });
    expect(findFirstStore(code, 0x3000, { int: 'si' })).toEqual({ vaddr: 0x3008, probeVaddr: 0x300c, spOffsetAtEntry: -0x28, entrySpDelta: 8, size: 8 });
    // EDX is stored through a copy in EAX (gcc -O0 does this); RAX itself is overwritten by that copy.
    expect(findFirstStore(code, 0x3000, { int: 'dx' })).toEqual({ vaddr: 0x300e, probeVaddr: 0x3011, spOffsetAtEntry: -0x2c, entrySpDelta: 8, size: 4 });
    expect(findFirstStore(code, 0x3000, { int: 'ax' })).toBeUndefined();
  });

  it('gives up when X<n> is overwritten, or a call comes first', () => {
    // xorps xmm0,xmm0; movss [rsp+8],xmm0
    expect(findFirstXmmSpill(bytes(0x0f, 0x57, 0xc0, 0xf3, 0x0f, 0x11, 0x44, 0x24, 0x08), 0x1000, 0)).toBeUndefined();
    // call +0; movss [rsp+8],xmm0
    expect(findFirstXmmSpill(bytes(0xe8, 0, 0, 0, 0, 0xf3, 0x0f, 0x11, 0x44, 0x24, 0x08), 0x1000, 0)).toBeUndefined();
    // a write to another register does not matter: xorps xmm1,xmm1; movss [rsp+8],xmm0
    expect(findFirstXmmSpill(bytes(0x0f, 0x57, 0xc9, 0xf3, 0x0f, 0x11, 0x44, 0x24, 0x08), 0x1000, 0)?.spOffsetAtEntry).toBe(8);
  });

  it('gives up when another branch lands between the entry and the probe address', () => {
    // 0x1000 nop; 0x1001 movss [rsp+8],xmm0 (6 bytes); 0x1007 ret; 0x1008 jmp 0x1001 (eb f7)
    const code = bytes(0x90, 0xf3, 0x0f, 0x11, 0x44, 0x24, 0x08, 0xc3, 0xeb, 0xf7);
    expect(findFirstXmmSpill(code, 0x1000, 0)).toBeUndefined();
  });
});

describe.skipIf(go119 === undefined)('the seed tracee built with Go 1.19', () => {
  it('stores a3 (X0) at entry SP+0x14 with the instruction at entry+0x1f (environment.md)', async () => {
    const binary = (await buildTracee({ tracee: 'seed', toolchain: go119!, mode: 'default' })).path;
    const elf = ElfFile.open(binary);
    const fn = findFunction(elf, 'main.ebpfDemo');
    const spill = findFirstXmmSpill(functionBytes(elf, fn), fn.vaddr, 0);
    // sub $0x70,%rsp at entry+0xa, so SP at the probe is 0x70 below the entry SP.
    expect(spill).toEqual({ vaddr: fn.vaddr + 0x1f, probeVaddr: fn.vaddr + 0x28, spOffsetAtEntry: 0x14, entrySpDelta: 0x70, size: 4 });
    const rets = findReturnOffsets(functionBytes(elf, fn), fn.vaddr);
    expect(rets).toEqual(await objdumpReturns(binary, fn.vaddr, fn.size));
    expect(rets.length).toBeGreaterThan(0);
  });
});

describe('RET lists agree with objdump on every zoo function, every installed toolchain', () => {
  for (const toolchain of toolchains) {
    it(`zoo built with ${toolchain.id}`, async () => {
      const binary = (await buildTracee({ tracee: 'zoo', toolchain, mode: 'default' })).path;
      const elf = ElfFile.open(binary);
      const functions = listGoFunctions(elf).filter((f) => /^main\.[A-Z(]/.test(f.name) && f.size > 0);
      expect(functions.length).toBeGreaterThanOrEqual(25);
      for (const fn of functions) {
        const rets = findReturnOffsets(functionBytes(elf, fn), fn.vaddr);
        expect({ fn: fn.name, rets }).toEqual({ fn: fn.name, rets: await objdumpReturns(binary, fn.vaddr, fn.size) });
      }
    });
  }

  it.skipIf(gccgo === undefined)('gccgo with -fcf-protection=full (ENDBR64 at every entry)', async () => {
    const tweaks = { gccgoOptimization: 0, gccgoFlags: ['-fcf-protection=full'] } as const;
    const binary = (await buildTracee({ tracee: 'zoo', toolchain: gccgo!, mode: 'default', tweaks })).path;
    const elf = ElfFile.open(binary);
    const fn = findFunction(elf, 'main.Float32s');
    const code = functionBytes(elf, fn);
    expect([...code.subarray(0, 4)]).toEqual([0xf3, 0x0f, 0x1e, 0xfa]);
    const rets = findReturnOffsets(code, fn.vaddr);
    expect(rets).toEqual(await objdumpReturns(binary, fn.vaddr, fn.size));
    expect(rets.length).toBeGreaterThan(0);
  });
});
