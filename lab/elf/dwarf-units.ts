/**
 * The DWARF debugging-information entry (DIE) tree: unit headers (DWARF 2–5), abbreviation
 * tables and attribute forms. Attribute values are kept raw and resolved through their unit
 * (string offsets, address table, list bases), because DWARF 5 puts those bases in attributes
 * of the unit DIE itself.
 */
import { ByteReader } from './bytes.ts';
import * as consts from './dwarf-consts.ts';
import { ElfErrorCode, elfError } from './errors.ts';
import type { ElfFile } from './file.ts';

// Local copies: module-namespace reads are getter calls on hot paths.
const At = consts.At;
const Form = consts.Form;

/** The raw debug sections (inflated), empty when absent. */
export interface DebugSections {
  readonly info: Buffer;
  readonly abbrev: Buffer;
  readonly str: Buffer;
  readonly lineStr: Buffer;
  readonly strOffsets: Buffer;
  readonly addr: Buffer;
  readonly loc: Buffer;
  readonly loclists: Buffer;
  readonly ranges: Buffer;
  readonly rnglists: Buffer;
}

/** One attribute as decoded: numbers for constants, offsets and indexes; strings; blocks. */
export interface Attr {
  readonly at: number;
  readonly form: number;
  readonly value: number | string | Buffer;
}

/** A debugging-information entry. */
export interface Die {
  /** Offset in .debug_info (what DW_FORM_ref_addr refers to). */
  readonly offset: number;
  readonly tag: number;
  readonly attrs: readonly Attr[];
  readonly children: Die[];
  readonly unit: Unit;
}

/** A compile (or partial/type) unit. */
export interface Unit {
  readonly offset: number;
  readonly version: number;
  readonly addressSize: number;
  /** 4 for 32-bit DWARF, 8 for 64-bit DWARF. */
  readonly offsetSize: number;
  /** The unit's root DIE (set once parsed). */
  root: Die | undefined;
}

/** Limits that stop a malformed file from exhausting time or memory. */
const limits = { dies: 20_000_000, depth: 512, abbrevs: 1_000_000, attrsPerAbbrev: 512 } as const;

/** Loads the debug sections, preferring .debug_* and falling back to .zdebug_*. */
export function loadDebugSections(elf: ElfFile): DebugSections | undefined {
  const get = (name: string): Buffer => {
    const s = elf.section(`.debug_${name}`) ?? elf.section(`.zdebug_${name}`);
    return s ? elf.sectionData(s) : Buffer.alloc(0);
  };
  const info = get('info');
  if (info.length === 0) return undefined;
  return {
    info,
    abbrev: get('abbrev'),
    str: get('str'),
    lineStr: get('line_str'),
    strOffsets: get('str_offsets'),
    addr: get('addr'),
    loc: get('loc'),
    loclists: get('loclists'),
    ranges: get('ranges'),
    rnglists: get('rnglists'),
  };
}

interface AbbrevSpec {
  at: number;
  form: number;
  implicit: number;
}
interface Abbrev {
  tag: number;
  hasChildren: boolean;
  specs: AbbrevSpec[];
}

/** Parses every unit of .debug_info into DIE trees. */
export function parseUnits(sections: DebugSections, path: string): Unit[] {
  const r = new ByteReader(sections.info, ElfErrorCode.badDwarf, `${path}: .debug_info`);
  const abbrevCache = new Map<number, Map<number, Abbrev>>();
  const units: Unit[] = [];
  const budget = { dies: 0 };
  while (r.pos + 11 <= sections.info.length) {
    const start = r.pos;
    let length = r.u32();
    let offsetSize = 4;
    if (length === 0xffffffff) {
      length = r.u64();
      offsetSize = 8;
    } else if (length >= 0xfffffff0) {
      r.fail(`reserved unit length 0x${length.toString(16)} at ${start}`);
    }
    const end = r.pos + length;
    r.need(r.pos, length);
    const version = r.u16();
    if (version < 2 || version > 5) r.fail(`unit at ${start} has DWARF version ${version}`);
    let unitType = 1; // DW_UT_compile
    let addressSize: number;
    let abbrevOffset: number;
    if (version >= 5) {
      unitType = r.u8();
      addressSize = r.u8();
      abbrevOffset = offsetSize === 8 ? r.u64() : r.u32();
      if (unitType === 4 || unitType === 5) r.pos += 8; // skeleton/split: dwo_id
      if (unitType === 2 || unitType === 6) r.pos += 8 + offsetSize; // type units: signature, type offset
    } else {
      abbrevOffset = offsetSize === 8 ? r.u64() : r.u32();
      addressSize = r.u8();
    }
    if (addressSize !== 8 && addressSize !== 4) r.fail(`unit at ${start} has address size ${addressSize}`);
    let abbrevs = abbrevCache.get(abbrevOffset);
    if (!abbrevs) {
      abbrevs = parseAbbrevs(sections.abbrev, abbrevOffset, path);
      abbrevCache.set(abbrevOffset, abbrevs);
    }
    const unit: Unit = { offset: start, version, addressSize, offsetSize, root: undefined };
    const unitReader = new ByteReader(sections.info.subarray(0, end), ElfErrorCode.badDwarf, `${path}: .debug_info unit at ${start}`, r.pos);
    parseDies(unitReader, unit, abbrevs, budget);
    units.push(unit);
    r.pos = end;
  }
  return units;
}

function parseAbbrevs(data: Buffer, offset: number, path: string): Map<number, Abbrev> {
  const r = new ByteReader(data, ElfErrorCode.badDwarf, `${path}: .debug_abbrev`, offset);
  const out = new Map<number, Abbrev>();
  for (;;) {
    const code = r.uleb();
    if (code === 0) return out;
    if (out.size >= limits.abbrevs) r.fail('too many abbreviations');
    const tag = r.uleb();
    const hasChildren = r.u8() !== 0;
    const specs: AbbrevSpec[] = [];
    for (;;) {
      const at = r.uleb();
      const form = r.uleb();
      if (at === 0 && form === 0) break;
      const implicit = form === Form.implicitConst ? r.sleb() : 0;
      specs.push({ at, form, implicit });
      if (specs.length > limits.attrsPerAbbrev) r.fail(`abbreviation ${code} has too many attributes`);
    }
    out.set(code, { tag, hasChildren, specs });
  }
}

function parseDies(r: ByteReader, unit: Unit, abbrevs: Map<number, Abbrev>, budget: { dies: number }): void {
  const stack: Die[] = [];
  while (!r.done) {
    const offset = r.pos;
    const code = r.uleb();
    if (code === 0) {
      stack.pop();
      if (stack.length === 0 && unit.root) return;
      continue;
    }
    const abbrev = abbrevs.get(code);
    if (!abbrev) return r.fail(`unknown abbreviation code ${code} at ${offset}`);
    if (++budget.dies > limits.dies) r.fail('too many entries');
    const attrs: Attr[] = [];
    for (const spec of abbrev.specs) attrs.push(readAttr(r, unit, spec.at, spec.form, spec.implicit, 0));
    const die: Die = { offset, tag: abbrev.tag, attrs, children: [], unit };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(die);
    else if (!unit.root) unit.root = die;
    else return; // a second top-level DIE: the unit is over
    if (abbrev.hasChildren) {
      if (stack.length >= limits.depth) r.fail(`entries nested deeper than ${limits.depth}`);
      stack.push(die);
    } else if (stack.length === 0) {
      return; // a childless unit DIE
    }
  }
}

function readAttr(r: ByteReader, unit: Unit, at: number, form: number, implicit: number, depth: number): Attr {
  const wide = unit.offsetSize === 8;
  let value: number | string | Buffer;
  switch (form) {
    case Form.addr:
      value = unit.addressSize === 8 ? r.u64() : r.u32();
      break;
    case Form.block1:
      value = r.bytes(r.u8());
      break;
    case Form.block2:
      value = r.bytes(r.u16());
      break;
    case Form.block4:
      value = r.bytes(r.u32());
      break;
    case Form.block:
    case Form.exprloc:
      value = r.bytes(r.uleb());
      break;
    case Form.data1:
    case Form.flag:
    case Form.strx1:
    case Form.addrx1:
      value = r.u8();
      break;
    case Form.data2:
    case Form.strx2:
    case Form.addrx2:
      value = r.u16();
      break;
    case Form.strx3:
    case Form.addrx3:
      value = r.u16() + r.u8() * 0x10000;
      break;
    case Form.data4:
    case Form.strx4:
    case Form.addrx4:
    case Form.refSup4:
      value = r.u32();
      break;
    case Form.data8:
    case Form.refSig8:
    case Form.refSup8:
      value = Number(r.u64big());
      break;
    case Form.data16:
      value = r.bytes(16);
      break;
    case Form.sdata:
      value = r.slebLoose();
      break;
    case Form.udata:
      value = r.ulebLoose();
      break;
    case Form.string:
      value = r.nextCstring(1 << 16);
      break;
    case Form.strp:
    case Form.lineStrp:
    case Form.strpSup:
    case Form.gnuStrpAlt:
    case Form.secOffset:
    case Form.gnuRefAlt:
      value = wide ? r.u64() : r.u32();
      break;
    case Form.refAddr:
      value = unit.version === 2 ? (unit.addressSize === 8 ? r.u64() : r.u32()) : wide ? r.u64() : r.u32();
      break;
    case Form.ref1:
      value = unit.offset + r.u8();
      break;
    case Form.ref2:
      value = unit.offset + r.u16();
      break;
    case Form.ref4:
      value = unit.offset + r.u32();
      break;
    case Form.ref8:
      value = unit.offset + r.u64();
      break;
    case Form.refUdata:
      value = unit.offset + r.uleb();
      break;
    case Form.flagPresent:
      value = 1;
      break;
    case Form.implicitConst:
      value = implicit;
      break;
    case Form.strx:
    case Form.addrx:
    case Form.loclistx:
    case Form.rnglistx:
    case Form.gnuAddrIndex:
    case Form.gnuStrIndex:
      value = r.uleb();
      break;
    case Form.indirect: {
      if (depth > 4) r.fail('DW_FORM_indirect nested too deep');
      return readAttr(r, unit, at, r.uleb(), implicit, depth + 1);
    }
    default:
      return r.fail(`unknown attribute form 0x${form.toString(16)} for attribute 0x${at.toString(16)}`);
  }
  return { at, form, value };
}

/** Resolves attribute values against the sections and the unit's bases. */
export class AttrResolver {
  private readonly bases = new WeakMap<Unit, { str: number; addr: number; loclists: number; rnglists: number }>();

  constructor(
    readonly sections: DebugSections,
    readonly path: string,
  ) {}

  /** The raw attribute, if present. */
  attr(die: Die, at: number): Attr | undefined {
    for (const a of die.attrs) if (a.at === at) return a;
    return undefined;
  }

  /** A numeric attribute (constants, flags, section offsets, references). */
  num(die: Die, at: number): number | undefined {
    const a = this.attr(die, at);
    if (!a) return undefined;
    if (typeof a.value === 'number') {
      if (a.form === Form.addrx || (a.form >= Form.addrx1 && a.form <= Form.addrx4) || a.form === Form.gnuAddrIndex) {
        return this.addressAt(die.unit, a.value);
      }
      return a.value;
    }
    if (Buffer.isBuffer(a.value) && a.form === Form.block1 && a.value.length > 0 && a.value[0] === 0x23) {
      // DWARF 2 member offsets: DW_OP_plus_uconst N.
      return new ByteReader(a.value, ElfErrorCode.badDwarf, `${this.path}: member location`, 1).uleb();
    }
    return undefined;
  }

  /** True when a flag attribute is present and set. */
  flag(die: Die, at: number): boolean {
    return (this.num(die, at) ?? 0) !== 0;
  }

  /** A string attribute, from any string form. */
  str(die: Die, at: number): string | undefined {
    const a = this.attr(die, at);
    if (!a) return undefined;
    if (typeof a.value === 'string') return a.value;
    if (typeof a.value !== 'number') return undefined;
    switch (a.form) {
      case Form.strp:
        return this.cstring(this.sections.str, a.value, '.debug_str');
      case Form.lineStrp:
        return this.cstring(this.sections.lineStr, a.value, '.debug_line_str');
      case Form.strx:
      case Form.strx1:
      case Form.strx2:
      case Form.strx3:
      case Form.strx4:
      case Form.gnuStrIndex: {
        const unit = die.unit;
        const base = this.unitBases(unit).str;
        const r = new ByteReader(this.sections.strOffsets, ElfErrorCode.badDwarf, `${this.path}: .debug_str_offsets`);
        const off = unit.offsetSize === 8 ? r.u64(base + a.value * 8) : r.u32(base + a.value * 4);
        return this.cstring(this.sections.str, off, '.debug_str');
      }
      default:
        return undefined; // supplementary-file strings are not available
    }
  }

  /** A reference attribute as a .debug_info offset. */
  ref(die: Die, at: number): number | undefined {
    const a = this.attr(die, at);
    if (!a || typeof a.value !== 'number') return undefined;
    if (a.form === Form.refSig8 || a.form === Form.gnuRefAlt || a.form === Form.refSup4 || a.form === Form.refSup8) return undefined;
    return a.value;
  }

  /** Entry `index` of the unit's .debug_addr table. */
  addressAt(unit: Unit, index: number): number {
    const base = this.unitBases(unit).addr;
    const r = new ByteReader(this.sections.addr, ElfErrorCode.badDwarf, `${this.path}: .debug_addr`);
    return unit.addressSize === 8 ? r.u64(base + index * 8) : r.u32(base + index * 4);
  }

  /** The unit's DW_AT_{str_offsets,addr,loclists,rnglists}_base values (DWARF 5 defaults when absent). */
  unitBases(unit: Unit): { str: number; addr: number; loclists: number; rnglists: number } {
    let b = this.bases.get(unit);
    if (!b) {
      const root = unit.root;
      const get = (at: number, dflt: number): number => {
        const a = root ? this.attr(root, at) : undefined;
        return a && typeof a.value === 'number' ? a.value : dflt;
      };
      const header = unit.offsetSize === 8 ? 16 : 8;
      b = { str: get(At.strOffsetsBase, header), addr: get(At.addrBase, header), loclists: get(At.loclistsBase, header + 4), rnglists: get(At.rnglistsBase, header + 4) };
      this.bases.set(unit, b);
    }
    return b;
  }

  private cstring(data: Buffer, offset: number, what: string): string {
    if (offset >= data.length) {
      throw elfError(ElfErrorCode.badDwarf, `${this.path}: ${what} offset ${offset} is past its ${data.length} bytes`, 'The binary is damaged; rebuild it.');
    }
    return new ByteReader(data, ElfErrorCode.badDwarf, `${this.path}: ${what}`).cstring(offset, 1 << 16);
  }
}
