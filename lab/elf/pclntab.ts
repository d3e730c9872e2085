/**
 * `.gopclntab`: the runtime's function table, present even in stripped gc binaries. It names
 * every function and gives its entry address, which is what a stripped binary is traced by.
 *
 * Layouts by header magic (the 8-byte header is magic, 0, 0, PC quantum, pointer size):
 * - 0xfffffffb, Go 1.2–1.15: nfunc, then (entry, funcoff) pointer pairs; names index the table.
 * - 0xfffffffa, Go 1.16–1.17: a header of offsets to sub-tables; names in funcnametab.
 * - 0xfffffff0, Go 1.18–1.19, and 0xfffffff1, Go 1.20+: as 1.16 plus textStart; functab entries
 *   are uint32 offsets from runtime.text. From Go 1.26 textStart is always zero, so the text
 *   base comes from the `runtime.text` symbol, else moduledata's `text` field, else `.text`.
 */
import { ByteReader } from './bytes.ts';
import { ElfErrorCode, elfError } from './errors.ts';
import { type ElfFile, type ElfSection, PF, PT, SHF, SHT } from './file.ts';

/** A function as the pclntab records it. */
export interface PclnFunction {
  /** The Go symbol name, e.g. `main.ebpfDemo` or `main.(*Account).Transfer`. */
  readonly name: string;
  /** Virtual address of the first instruction. */
  readonly entry: number;
  /** Virtual address just past the function (the next function's entry). */
  readonly end: number;
}

/** The decoded function table. */
export interface Pclntab {
  /** Which header layout the magic selected. */
  readonly layout: '1.2' | '1.16' | '1.18' | '1.20';
  /** The base function entries are relative to (runtime.text). */
  readonly textStart: number;
  /** How `textStart` was found. */
  readonly textStartSource: 'header' | 'symtab' | 'moduledata' | 'section' | 'entries';
  /** Virtual address of the table's header. */
  readonly vaddr: number;
  /** Where the table was found: its own section, or by scanning another section for the magic. */
  readonly foundIn: string;
  /** Functions in table order (ascending entry). */
  readonly functions: readonly PclnFunction[];
}

const layouts = new Map<number, Pclntab['layout']>([
  [0xfffffffb, '1.2'],
  [0xfffffffa, '1.16'],
  [0xfffffff0, '1.18'],
  [0xfffffff1, '1.20'],
]);
/** Longest function name accepted (generic instantiations can be long). */
const maxNameLength = 1 << 14;

/**
 * Finds and decodes the pclntab.
 * @throws GolabError GO_NO_PCLNTAB when there is none (gccgo, C, or a damaged magic),
 *   GO_BAD_PCLNTAB when the table is found but does not decode.
 */
export function readPclntab(elf: ElfFile): Pclntab {
  const found = locate(elf);
  if (!found) {
    throw elfError(ElfErrorCode.noPclntab, `${elf.path}: no Go function table (.gopclntab)`, 'This is not a gc-built Go binary (gccgo and C binaries have none); use its symbol table or DWARF instead.');
  }
  return decode(elf, found.data, found.vaddr, found.where);
}

interface Located {
  data: Buffer;
  vaddr: number;
  where: string;
}

/** The `.gopclntab` section, else the first valid header found by scanning read-only data. */
function locate(elf: ElfFile): Located | undefined {
  const section = elf.section('.gopclntab');
  if (section && section.type !== SHT.nobits) {
    const data = elf.sectionData(section);
    if (layouts.has(data.length >= 4 ? data.readUInt32LE(0) : 0)) return { data, vaddr: section.addr, where: '.gopclntab' };
  }
  // External linkers fold the table into .data.rel.ro or .rodata: scan for its signature.
  const candidates: { data: Buffer; vaddr: number; where: string }[] = [];
  const scanSections = elf.sections.filter(
    (s: ElfSection) => s.type === SHT.progbits && (s.flags & SHF.alloc) !== 0 && (s.flags & SHF.execinstr) === 0 && s.size >= 16,
  );
  for (const s of scanSections) candidates.push({ data: elf.sectionData(s), vaddr: s.addr, where: s.name });
  if (elf.sections.length === 0) {
    for (const seg of elf.segments) {
      if (seg.type !== PT.load || seg.flags & PF.x) continue;
      candidates.push({ data: elf.fileRange(seg.offset, seg.filesz, 'segment'), vaddr: seg.vaddr, where: 'segment' });
    }
  }
  for (const c of candidates) {
    for (const magic of layouts.keys()) {
      const signature = Buffer.alloc(8);
      signature.writeUInt32LE(magic, 0);
      signature[6] = 1; // PC quantum on x86
      signature[7] = 8; // pointer size
      let at = c.data.indexOf(signature);
      for (let tries = 0; at >= 0 && tries < 64; tries++) {
        const data = c.data.subarray(at);
        if (plausibleHeader(data)) return { data, vaddr: c.vaddr + at, where: `${c.where}+0x${at.toString(16)}` };
        at = c.data.indexOf(signature, at + 1);
      }
    }
  }
  return undefined;
}

/** A scanned signature is only accepted when its counts and offsets fit the data. */
function plausibleHeader(data: Buffer): boolean {
  try {
    const r = new ByteReader(data, ElfErrorCode.badPclntab, 'pclntab');
    const nfunc = r.u64(8);
    if (nfunc === 0 || nfunc > data.length / 8) return false;
    const magic = r.u32(0);
    if (magic === 0xfffffffb) return 16 + nfunc * 16 <= data.length;
    const first = magic === 0xfffffffa ? 24 : 32;
    for (let i = 0; i < 5; i++) if (r.u64(first + i * 8) >= data.length) return false;
    return true;
  } catch {
    return false;
  }
}

function decode(elf: ElfFile, data: Buffer, vaddr: number, where: string): Pclntab {
  const r = new ByteReader(data, ElfErrorCode.badPclntab, `${elf.path}: pclntab`);
  const magic = r.u32(0);
  const layout = layouts.get(magic);
  if (!layout) return r.fail(`unknown magic 0x${magic.toString(16)}`);
  const ptrSize = r.u8(7);
  if (ptrSize !== 8 || r.u8(6) !== 1) r.fail(`pointer size ${ptrSize} / quantum ${r.u8(6)} are not amd64's`);
  const nfunc = r.u64(8);
  // Each function takes at least a functab pair; more than the data holds means a damaged count.
  if (nfunc > data.length / 8) r.fail(`function count ${nfunc} exceeds the table's ${data.length} bytes`);

  // Within the mapped table, pointer-sized words may be PIE relocations: read those through the ELF.
  const word = (at: number): number => {
    r.need(at, 8);
    const stored = r.u64(at);
    if (stored !== 0 || !elf.segmentOf(vaddr + at)) return stored;
    try {
      return elf.readPointer(vaddr + at);
    } catch {
      return stored;
    }
  };

  const entries: number[] = [];
  const nameOffsets: number[] = [];
  let endPc: number;
  let nameBase: number;
  let textStart = 0;
  let textStartSource: Pclntab['textStartSource'] = 'entries';
  if (layout === '1.2' || layout === '1.16') {
    let functab: number;
    let funcBase: number;
    if (layout === '1.2') {
      functab = 16;
      funcBase = 0;
      nameBase = 0;
    } else {
      nameBase = r.u64(24);
      functab = r.u64(56);
      funcBase = functab;
    }
    r.need(functab, (nfunc * 2 + 1) * 8);
    for (let i = 0; i < nfunc; i++) {
      entries.push(word(functab + i * 16));
      const funcOff = r.u64(functab + i * 16 + 8);
      nameOffsets.push(r.i32(funcBase + funcOff + 8));
    }
    endPc = word(functab + nfunc * 16);
    textStart = entries[0] ?? 0;
  } else {
    nameBase = r.u64(32);
    const functab = r.u64(64);
    r.need(functab, (nfunc * 2 + 1) * 4);
    const base = resolveTextStart(elf, word(24), vaddr);
    textStart = base.value;
    textStartSource = base.source;
    for (let i = 0; i < nfunc; i++) {
      entries.push(textStart + r.u32(functab + i * 8));
      const funcOff = r.u32(functab + i * 8 + 4);
      nameOffsets.push(r.i32(functab + funcOff + 4));
    }
    endPc = textStart + r.u32(functab + nfunc * 8);
  }

  const names = new ByteReader(data, ElfErrorCode.badPclntab, `${elf.path}: pclntab names`);
  const functions: PclnFunction[] = [];
  // Valid names fit in the table; many long ones mean the offsets point at the wrong bytes.
  let nameBytes = 0;
  for (let i = 0; i < nfunc; i++) {
    const at = nameBase + nameOffsets[i]!;
    const name = names.cstring(at, maxNameLength);
    nameBytes += name.length;
    if (nameBytes > 4 * data.length + 4096) r.fail('function names overrun the table');
    functions.push({ name, entry: entries[i]!, end: entries[i + 1] ?? endPc });
  }
  return { layout, textStart, textStartSource, vaddr, foundIn: where, functions };
}

/**
 * The runtime.text address function offsets are relative to. The header holds it up to Go 1.25
 * (possibly through a PIE relocation); from Go 1.26 it is zero and must come from elsewhere.
 */
function resolveTextStart(elf: ElfFile, headerValue: number, pclntabVaddr: number): { value: number; source: Pclntab['textStartSource'] } {
  if (headerValue !== 0) return { value: headerValue, source: 'header' };
  const sym = elf.symbol('runtime.text');
  if (sym && sym.value !== 0) return { value: sym.value, source: 'symtab' };
  const fromModule = moduledataText(elf, pclntabVaddr);
  if (fromModule !== undefined) return { value: fromModule, source: 'moduledata' };
  const text = elf.section('.text');
  if (text) return { value: text.addr, source: 'section' };
  const exec = elf.segments.find((s) => s.type === PT.load && s.flags & PF.x);
  if (exec) return { value: exec.vaddr, source: 'section' };
  throw elfError(ElfErrorCode.badPclntab, `${elf.path}: cannot find runtime.text to place the function table`, 'The binary has no text section; it is damaged.');
}

/** Offset of `text` in runtime.moduledata (Go 1.16+): pcHeader + 6 slices + findfunctab + minpc + maxpc. */
const moduledataTextOffset = 8 + 6 * 24 + 8 + 8 + 8;

/**
 * Finds runtime.firstmoduledata by its first word, a pointer to the pclntab header, and returns
 * its `text` field. In PIE binaries that pointer is an R_X86_64_RELATIVE addend, not file bytes.
 */
function moduledataText(elf: ElfFile, pclntabVaddr: number): number | undefined {
  const needle = Buffer.alloc(8);
  needle.writeBigUInt64LE(BigInt(pclntabVaddr));
  const candidates: number[] = [];
  const preferred = ['.go.module', '.noptrdata', '.data', '.data.rel.ro'];
  const sections = [
    ...preferred.map((n) => elf.section(n)).filter((s): s is ElfSection => s !== undefined),
    ...elf.sections.filter((s) => !preferred.includes(s.name) && s.type === SHT.progbits && s.flags & SHF.write),
  ];
  for (const s of sections) {
    const data = elf.sectionData(s);
    for (let at = data.indexOf(needle); at >= 0 && candidates.length < 16; at = data.indexOf(needle, at + 1)) {
      if ((s.addr + at) % 8 === 0) candidates.push(s.addr + at);
    }
  }
  for (const [target, addend] of elf.relativeRelocations()) if (addend === pclntabVaddr) candidates.push(target);
  for (const md of candidates) {
    try {
      const text = elf.readPointer(md + moduledataTextOffset);
      const minpc = elf.readPointer(md + moduledataTextOffset - 16);
      const seg = elf.segmentOf(text);
      if (seg && seg.flags & PF.x && minpc >= text) return text;
    } catch {
      // Not moduledata after all: try the next candidate.
    }
  }
  return undefined;
}
