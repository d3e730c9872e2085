/**
 * An ELF64 little-endian x86-64 reader: headers, sections, segments, symbols and the mapping
 * from virtual addresses to file offsets. Symbols, decompressed sections and relocations are
 * decoded on first use, so opening a binary costs only its headers.
 */
import { readFileSync, statSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { ByteReader } from './bytes.ts';
import { ElfErrorCode, elfError } from './errors.ts';

/** A section header. */
export interface ElfSection {
  /** Index in the section header table. */
  readonly index: number;
  readonly name: string;
  /** `sh_type`, e.g. 1 = SHT_PROGBITS, 8 = SHT_NOBITS. */
  readonly type: number;
  /** `sh_flags`: 1 write, 2 alloc, 4 exec, 0x800 compressed. */
  readonly flags: number;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly entsize: number;
}

/** A program header. */
export interface ElfSegment {
  /** `p_type`, e.g. 1 = PT_LOAD, 3 = PT_INTERP. */
  readonly type: number;
  /** `p_flags`: 1 exec, 2 write, 4 read. */
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
  readonly memsz: number;
}

/** A `.symtab` entry. */
export interface ElfSymbol {
  readonly name: string;
  readonly value: number;
  readonly size: number;
  readonly type: 'func' | 'object' | 'other';
  /** `st_shndx`: the section the symbol lives in (0 = undefined, ≥0xff00 special). */
  readonly sectionIndex: number;
}

/** Section header constants used across lab/elf. */
export const SHT = { progbits: 1, symtab: 2, strtab: 3, rela: 4, dynamic: 6, nobits: 8, dynsym: 11 } as const;
/** Section flag bits. */
export const SHF = { write: 0x1, alloc: 0x2, execinstr: 0x4, compressed: 0x800 } as const;
/** Program header constants. */
export const PT = { load: 1, dynamic: 2, interp: 3 } as const;
/** Segment permission bits. */
export const PF = { x: 1, w: 2, r: 4 } as const;

const EM_X86_64 = 62;
const DT_FLAGS_1 = 0x6ffffffb;
const DF_1_PIE = 0x08000000;
const R_X86_64_RELATIVE = 8;
/** Sanity limits: real binaries are far below them; a malformed header is stopped by them. */
const maxSections = 1 << 16;
const maxSegments = 1 << 12;
/** Largest decompressed section accepted (guards against decompression bombs). */
const maxInflated = 1 << 30;

/** An ELF64 little-endian x86-64 file. */
export class ElfFile {
  /** The path it was read from (or a label for parsed buffers). */
  readonly path: string;
  /** `e_type`: executable, shared object/PIE, relocatable, or other. */
  readonly type: 'exec' | 'dyn' | 'rel' | 'other';
  /** True for a position-independent executable: ET_DYN with an interpreter, or DF_1_PIE. */
  readonly isPie: boolean;
  /** All section headers, in table order. */
  readonly sections: readonly ElfSection[];
  /** All program headers, in table order. */
  readonly segments: readonly ElfSegment[];
  /** The whole file. */
  readonly data: Buffer;

  private readonly byName = new Map<string, ElfSection>();
  private readonly inflated = new Map<number, Buffer>();
  private symbolCache: readonly ElfSymbol[] | undefined;
  private symbolByName: Map<string, ElfSymbol> | undefined;
  private relativeRelocs: Map<number, number> | undefined;
  private readonly loads: readonly ElfSegment[];

  private constructor(data: Buffer, path: string) {
    this.data = data;
    this.path = path;
    checkIdent(data, path);
    const r = new ByteReader(data, ElfErrorCode.truncated, `${path}: ELF header`);
    const eType = r.u16(16);
    this.type = eType === 2 ? 'exec' : eType === 3 ? 'dyn' : eType === 1 ? 'rel' : 'other';
    const phoff = r.u64(32);
    const shoff = r.u64(40);
    const phentsize = r.u16(54);
    let phnum = r.u16(56);
    const shentsize = r.u16(58);
    let shnum = r.u16(60);
    let shstrndx = r.u16(62);

    // Extended numbering: counts that do not fit 16 bits live in section 0.
    if (shoff !== 0 && (shnum === 0 || shstrndx === 0xffff || phnum === 0xffff)) {
      const tr = new ByteReader(data, ElfErrorCode.truncated, `${path}: section header 0`);
      if (shnum === 0) shnum = Math.min(tr.u64(shoff + 32), maxSections + 1);
      if (shstrndx === 0xffff) shstrndx = tr.u32(shoff + 40);
      if (phnum === 0xffff) phnum = tr.u32(shoff + 44);
    }
    if (shnum > maxSections || phnum > maxSegments) {
      throw elfError(ElfErrorCode.malformed, `${path}: implausible header counts (${shnum} sections, ${phnum} segments)`, 'The binary is damaged; rebuild it.');
    }
    if ((phnum > 0 && phentsize < 56) || (shnum > 0 && shentsize < 64)) {
      throw elfError(ElfErrorCode.malformed, `${path}: header entry sizes ${phentsize}/${shentsize} are too small`, 'The binary is damaged; rebuild it.');
    }

    const segments: ElfSegment[] = [];
    const pr = new ByteReader(data, ElfErrorCode.truncated, `${path}: program headers`);
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      segments.push({
        type: pr.u32(at),
        flags: pr.u32(at + 4),
        offset: pr.u64(at + 8),
        vaddr: pr.u64(at + 16),
        filesz: pr.u64(at + 32),
        memsz: pr.u64(at + 40),
      });
    }
    this.segments = segments;
    this.loads = segments.filter((s) => s.type === PT.load);

    const raw: Omit<ElfSection, 'name'>[] = [];
    const nameOffsets: number[] = [];
    const sr = new ByteReader(data, ElfErrorCode.truncated, `${path}: section headers`);
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * shentsize;
      nameOffsets.push(sr.u32(at));
      raw.push({
        index: i,
        type: sr.u32(at + 4),
        flags: sr.u64(at + 8),
        addr: sr.u64(at + 16),
        offset: sr.u64(at + 24),
        size: sr.u64(at + 32),
        link: sr.u32(at + 40),
        info: sr.u32(at + 44),
        entsize: sr.u64(at + 56),
      });
    }
    const strtab = raw[shstrndx];
    let names: ByteReader | undefined;
    if (strtab && strtab.type !== SHT.nobits) {
      names = new ByteReader(this.fileRange(strtab.offset, strtab.size, 'section name table'), ElfErrorCode.malformed, `${path}: section names`);
    }
    this.sections = raw.map((s, i) => {
      const off = nameOffsets[i]!;
      const name = names && off < names.data.length ? names.cstring(off, 4096) : '';
      return { ...s, name };
    });
    for (const s of this.sections) if (s.name && !this.byName.has(s.name)) this.byName.set(s.name, s);
    // A cut-off copy shows as contents past the end of the file: say so now, not at first use.
    for (const s of this.sections) if (s.type !== SHT.nobits && s.index !== 0) this.fileRange(s.offset, s.size, `section ${s.name || s.index}`);
    for (const p of this.segments) this.fileRange(p.offset, p.filesz, `segment at 0x${p.vaddr.toString(16)}`);
    this.isPie = this.type === 'dyn' && (segments.some((s) => s.type === PT.interp) || this.hasDf1Pie());
  }

  /**
   * Reads and parses the ELF file at `path`.
   * @throws GolabError ELF_NOT_FOUND, ELF_IS_DIRECTORY, ELF_NOT_ELF, ELF_WRONG_ARCH, ELF_TRUNCATED
   */
  static open(path: string): ElfFile {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      throw elfError(ElfErrorCode.notFound, `${path}: no such file`, 'Check the path of the binary (build it first, or pass an absolute path).');
    }
    if (isDir) {
      throw elfError(ElfErrorCode.isDirectory, `${path} is a directory, not a binary`, 'Pass the path of the built executable, e.g. the output of `go build -o`.');
    }
    return new ElfFile(readFileSync(path), path);
  }

  /** Parses an ELF image already in memory; `path` only labels messages. */
  static parse(data: Buffer, path = '<buffer>'): ElfFile {
    return new ElfFile(data, path);
  }

  /** The first section with this name, if any. */
  section(name: string): ElfSection | undefined {
    return this.byName.get(name);
  }

  /**
   * The bytes of a section as the program sees them: SHF_COMPRESSED (zlib) sections and
   * `.zdebug_*` sections are inflated, SHT_NOBITS sections are empty.
   */
  sectionData(section: ElfSection): Buffer {
    if (section.type === SHT.nobits) return Buffer.alloc(0);
    const cached = this.inflated.get(section.index);
    if (cached) return cached;
    const raw = this.fileRange(section.offset, section.size, `section ${section.name}`);
    let out = raw;
    if (section.flags & SHF.compressed) out = this.inflateChdr(section, raw);
    else if (section.name.startsWith('.zdebug_')) out = this.inflateZdebug(section, raw);
    if (out !== raw) this.inflated.set(section.index, out);
    return out;
  }

  /** The `.symtab` symbols (empty when the binary is stripped). Decoded once. */
  symbols(): readonly ElfSymbol[] {
    if (this.symbolCache) return this.symbolCache;
    const symtab = this.sections.find((s) => s.type === SHT.symtab);
    const out: ElfSymbol[] = [];
    if (symtab) {
      const strSection = this.sections[symtab.link];
      const strData = strSection ? this.sectionData(strSection) : Buffer.alloc(0);
      const data = this.sectionData(symtab);
      const r = new ByteReader(data, ElfErrorCode.truncated, `${this.path}: .symtab`);
      const strs = new ByteReader(strData, ElfErrorCode.malformed, `${this.path}: .strtab`);
      const count = Math.floor(data.length / 24);
      let nameBytes = 0;
      for (let i = 1; i < count; i++) {
        const at = i * 24;
        const nameOff = r.u32(at);
        const info = r.u8(at + 4);
        const kind = info & 0xf;
        const name = nameOff < strData.length ? strs.cstring(nameOff, 1 << 14) : '';
        // Real names fit in .strtab (with suffix sharing, at most a few times over).
        nameBytes += name.length;
        if (nameBytes > 8 * strData.length + 4096) {
          throw elfError(ElfErrorCode.malformed, `${this.path}: .symtab names overrun .strtab`, 'The binary is damaged; rebuild it.');
        }
        out.push({
          name,
          type: kind === 2 ? 'func' : kind === 1 ? 'object' : 'other',
          sectionIndex: r.u16(at + 6),
          value: Number(r.u64big(at + 8) & 0x1fffffffffffffn),
          size: Number(r.u64big(at + 16) & 0x1fffffffffffffn),
        });
      }
    }
    this.symbolCache = out;
    return out;
  }

  /** The first symbol with this exact name, if any. */
  symbol(name: string): ElfSymbol | undefined {
    if (!this.symbolByName) {
      this.symbolByName = new Map();
      for (const s of this.symbols()) if (!this.symbolByName.has(s.name)) this.symbolByName.set(s.name, s);
    }
    return this.symbolByName.get(name);
  }

  /** The PT_LOAD segment whose file-backed bytes contain `vaddr`, if any. */
  segmentOf(vaddr: number): ElfSegment | undefined {
    return this.loads.find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
  }

  /**
   * The file offset of a virtual address, through the PT_LOAD segments
   * (vaddr − p_vaddr + p_offset). This is the offset uprobes take, for PIE and non-PIE alike.
   * @throws GolabError ELF_UNMAPPED_ADDRESS when no segment maps it from the file.
   */
  vaddrToFileOffset(vaddr: number): number {
    const seg = this.segmentOf(vaddr);
    if (!seg) {
      throw elfError(ElfErrorCode.unmapped, `${this.path}: address 0x${vaddr.toString(16)} is not in any loadable segment's file bytes`, 'Use an address of code or initialized data of this binary.');
    }
    return vaddr - seg.vaddr + seg.offset;
  }

  /** `length` bytes at a virtual address; all of them must come from one segment's file bytes. */
  readVirtual(vaddr: number, length: number): Buffer {
    const seg = this.segmentOf(vaddr);
    if (!seg || length < 0 || vaddr + length > seg.vaddr + seg.filesz) {
      throw elfError(ElfErrorCode.unmapped, `${this.path}: ${length} bytes at 0x${vaddr.toString(16)} are not in one loadable segment's file bytes`, 'The binary is damaged, or the address is not of this binary.');
    }
    return this.fileRange(vaddr - seg.vaddr + seg.offset, length, `virtual address 0x${vaddr.toString(16)}`);
  }

  /**
   * A pointer-sized word at `vaddr` as the loader leaves it: when the word is covered by an
   * R_X86_64_RELATIVE relocation (PIE), the relocation's addend is the value (the file holds 0).
   */
  readPointer(vaddr: number): number {
    const reloc = this.relocations().get(vaddr);
    if (reloc !== undefined) return reloc;
    return new ByteReader(this.readVirtual(vaddr, 8), ElfErrorCode.malformed, `${this.path}: pointer`).u64(0);
  }

  /** Bytes `[offset, offset+size)` of the file, or ELF_TRUNCATED. */
  fileRange(offset: number, size: number, what: string): Buffer {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > this.data.length) {
      throw elfError(ElfErrorCode.truncated, `${this.path}: ${what} (${size} bytes at offset ${offset}) lies past the end of the ${this.data.length}-byte file`, 'The binary is truncated; rebuild it or copy it again.');
    }
    return this.data.subarray(offset, offset + size);
  }

  /** R_X86_64_RELATIVE relocations, target address → addend (PIE binaries store pointers as these). */
  relativeRelocations(): ReadonlyMap<number, number> {
    return this.relocations();
  }

  private relocations(): Map<number, number> {
    if (this.relativeRelocs) return this.relativeRelocs;
    const map = new Map<number, number>();
    for (const s of this.sections) {
      if (s.type !== SHT.rela || (s.flags & SHF.alloc) === 0) continue;
      const data = this.sectionData(s);
      for (let at = 0; at + 24 <= data.length; at += 24) {
        const info = data.readBigUInt64LE(at + 8);
        if ((info & 0xffffffffn) !== BigInt(R_X86_64_RELATIVE)) continue;
        const offset = Number(data.readBigUInt64LE(at));
        const addend = Number(data.readBigInt64LE(at + 16));
        map.set(offset, addend);
      }
    }
    this.relativeRelocs = map;
    return map;
  }

  private hasDf1Pie(): boolean {
    const dyn = this.sections.find((s) => s.type === SHT.dynamic);
    const seg = this.segments.find((s) => s.type === PT.dynamic);
    let data: Buffer | undefined;
    try {
      if (dyn) data = this.sectionData(dyn);
      else if (seg) data = this.fileRange(seg.offset, seg.filesz, 'PT_DYNAMIC');
    } catch {
      return false; // A damaged dynamic table only loses the PIE hint, not the file.
    }
    if (!data) return false;
    for (let at = 0; at + 16 <= data.length; at += 16) {
      const tag = data.readBigInt64LE(at);
      if (tag === 0n) break;
      if (tag === BigInt(DT_FLAGS_1)) return (Number(data.readBigUInt64LE(at + 8) & 0xffffffffn) & DF_1_PIE) !== 0;
    }
    return false;
  }

  private inflateChdr(section: ElfSection, raw: Buffer): Buffer {
    const r = new ByteReader(raw, ElfErrorCode.truncated, `${this.path}: ${section.name} compression header`);
    const chType = r.u32(0);
    const chSize = r.u64(8);
    if (chType !== 1) {
      throw elfError(ElfErrorCode.compression, `${this.path}: section ${section.name} uses compression type ${chType} (${chType === 2 ? 'zstd' : 'unknown'}); only zlib is supported`, 'Rebuild with zlib-compressed debug sections (e.g. -ldflags=-compressdwarf=true) or uncompressed ones.');
    }
    return this.inflate(section, raw.subarray(24), chSize);
  }

  private inflateZdebug(section: ElfSection, raw: Buffer): Buffer {
    if (raw.length < 12 || raw.toString('latin1', 0, 4) !== 'ZLIB') return raw;
    const size = raw.readBigUInt64BE(4);
    if (size > BigInt(maxInflated)) this.compressionError(section, `claims ${size} bytes`);
    return this.inflate(section, raw.subarray(12), Number(size));
  }

  private inflate(section: ElfSection, stream: Buffer, size: number): Buffer {
    if (size > maxInflated) this.compressionError(section, `claims ${size} bytes`);
    let out: Buffer;
    try {
      out = inflateSync(stream, { maxOutputLength: Math.max(size, 1) });
    } catch (error) {
      return this.compressionError(section, error instanceof Error ? error.message : String(error));
    }
    if (out.length !== size) this.compressionError(section, `inflated to ${out.length} bytes, header says ${size}`);
    return out;
  }

  private compressionError(section: ElfSection, why: string): never {
    throw elfError(ElfErrorCode.compression, `${this.path}: compressed section ${section.name} does not inflate: ${why}`, 'The binary is damaged; rebuild it.');
  }
}

/** Checks the identification bytes: ELF magic, 64-bit, little-endian, x86-64. */
function checkIdent(data: Buffer, path: string): void {
  const magic = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
  const prefix = data.subarray(0, 4);
  if (!magic.subarray(0, prefix.length).equals(prefix) || data.length === 0) {
    throw elfError(ElfErrorCode.notElf, `${path} is not an ELF file`, 'Point the lab at a compiled Go executable (a Linux ELF binary), not a script or source file.');
  }
  if (data.length < 64) {
    throw elfError(ElfErrorCode.truncated, `${path}: only ${data.length} bytes, shorter than an ELF64 header`, 'The binary is truncated; rebuild it or copy it again.');
  }
  const elfClass = data[4];
  const encoding = data[5];
  const machine = data.readUInt16LE(18);
  if (elfClass !== 2 || encoding !== 1 || machine !== EM_X86_64) {
    const got = `class ${elfClass === 1 ? 'ELF32' : elfClass === 2 ? 'ELF64' : elfClass}, ${encoding === 1 ? 'little' : encoding === 2 ? 'big' : `encoding ${encoding}`}-endian, e_machine ${machine}`;
    throw elfError(ElfErrorCode.wrongArch, `${path} is not an x86-64 ELF64 little-endian binary (${got})`, 'Build the target for linux/amd64 (GOARCH=amd64); the lab traces x86-64 only.');
  }
}
