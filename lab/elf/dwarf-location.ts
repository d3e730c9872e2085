/**
 * DWARF location descriptions: single expressions (DW_FORM_exprloc/block) and location lists
 * (.debug_loc for DWARF 2–4, .debug_loclists for DWARF 5), decoded into pieces a probe can read.
 *
 * The decoder is symbolic, not numeric: it keeps "CFA + n", "reg + n" and "frame base + n"
 * as such, because the actual register values only exist in the traced process.
 */
import { ByteReader } from './bytes.ts';
import { ElfErrorCode } from './errors.ts';
import type { AttrResolver, Unit } from './dwarf-units.ts';

/** DWARF register numbers of x86-64 (System V psABI) → names. */
const amd64Registers = [
  'rax', 'rdx', 'rcx', 'rbx', 'rsi', 'rdi', 'rbp', 'rsp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
  'rip',
  'xmm0', 'xmm1', 'xmm2', 'xmm3', 'xmm4', 'xmm5', 'xmm6', 'xmm7',
  'xmm8', 'xmm9', 'xmm10', 'xmm11', 'xmm12', 'xmm13', 'xmm14', 'xmm15',
] as const;

/** The name of an x86-64 DWARF register number (0 rax, 1 rdx, 2 rcx, 3 rbx, …, 17–32 xmm0–15). */
export function dwarfRegisterName(dwarfReg: number): string {
  return amd64Registers[dwarfReg] ?? `dwarfreg${dwarfReg}`;
}

/**
 * One piece of a value's location. `size` is the DW_OP_piece size in bytes, or undefined when
 * the expression describes the whole value without pieces.
 */
export type DwarfPiece =
  /** In a register. */
  | { readonly kind: 'reg'; readonly dwarfReg: number; readonly register: string; readonly size: number | undefined }
  /** In memory at frame base + offset (Go's frame base is DW_OP_call_frame_cfa). */
  | { readonly kind: 'fbreg'; readonly offset: number; readonly size: number | undefined }
  /** In memory at CFA + offset. At a function's entry on amd64, CFA = RSP + 8. */
  | { readonly kind: 'stack'; readonly cfaOffset: number; readonly size: number | undefined }
  /** In memory at register + offset. */
  | { readonly kind: 'breg'; readonly dwarfReg: number; readonly register: string; readonly offset: number; readonly size: number | undefined }
  /** In memory at a fixed address. */
  | { readonly kind: 'addr'; readonly address: number; readonly size: number | undefined }
  /** Not in memory: the value itself (DW_OP_stack_value, DW_OP_implicit_value). */
  | { readonly kind: 'value'; readonly value: number; readonly size: number | undefined }
  /** Optimized out (an empty piece). */
  | { readonly kind: 'empty'; readonly size: number | undefined }
  /** An expression this decoder does not follow (e.g. DW_OP_deref, DW_OP_entry_value). */
  | { readonly kind: 'unsupported'; readonly opcode: number; readonly size: number | undefined };

/** One range of a location list: the pieces hold for lowPc ≤ pc < highPc. */
export interface DwarfLocationRange {
  readonly lowPc: number;
  readonly highPc: number;
  readonly pieces: readonly DwarfPiece[];
}

/** Where a variable lives: one expression for the whole scope, or a list by PC range. */
export type DwarfLocation =
  | { readonly kind: 'expr'; readonly pieces: readonly DwarfPiece[] }
  | { readonly kind: 'list'; readonly ranges: readonly DwarfLocationRange[] };

type Sym =
  | { k: 'cfa'; off: number }
  | { k: 'fb'; off: number }
  | { k: 'breg'; reg: number; off: number }
  | { k: 'const'; v: number }
  | { k: 'bad'; op: number };

/** Longest expression decoded; longer ones are reported as unsupported. */
const maxOps = 1024;

/** Decodes one DWARF expression into pieces. */
export function decodeExpression(expr: Buffer, addressSize: number, path: string): DwarfPiece[] {
  const r = new ByteReader(expr, ElfErrorCode.badDwarf, `${path}: DWARF expression`);
  const pieces: DwarfPiece[] = [];
  const stack: Sym[] = [];
  let reg: number | undefined;
  let isValue = false;
  let implicit: number | undefined;
  let unsupported: number | undefined;

  const current = (size: number | undefined): DwarfPiece => {
    if (unsupported !== undefined) return { kind: 'unsupported', opcode: unsupported, size };
    if (reg !== undefined) return { kind: 'reg', dwarfReg: reg, register: dwarfRegisterName(reg), size };
    if (implicit !== undefined) return { kind: 'value', value: implicit, size };
    const top = stack[stack.length - 1];
    if (!top) return { kind: 'empty', size };
    switch (top.k) {
      case 'cfa':
        return isValue ? { kind: 'unsupported', opcode: 0x9f, size } : { kind: 'stack', cfaOffset: top.off, size };
      case 'fb':
        return isValue ? { kind: 'unsupported', opcode: 0x9f, size } : { kind: 'fbreg', offset: top.off, size };
      case 'breg':
        return isValue ? { kind: 'unsupported', opcode: 0x9f, size } : { kind: 'breg', dwarfReg: top.reg, register: dwarfRegisterName(top.reg), offset: top.off, size };
      case 'const':
        return isValue ? { kind: 'value', value: top.v, size } : { kind: 'addr', address: top.v, size };
      case 'bad':
        return { kind: 'unsupported', opcode: top.op, size };
    }
  };
  const reset = (): void => {
    stack.length = 0;
    reg = undefined;
    isValue = false;
    implicit = undefined;
    unsupported = undefined;
  };
  const shift = (s: Sym, d: number, _op: number): Sym => {
    switch (s.k) {
      case 'const':
        return { k: 'const', v: s.v + d };
      case 'bad':
        return s;
      case 'breg':
        return { k: 'breg', reg: s.reg, off: s.off + d };
      default:
        return { k: s.k, off: s.off + d };
    }
  };
  const binary = (op: number): void => {
    const b = stack.pop();
    const a = stack.pop();
    if (!a || !b) return void stack.push({ k: 'bad', op });
    // Only "location ± constant" and "constant ± constant" can be kept symbolic.
    if (op === 0x22 && b.k === 'const') stack.push(shift(a, b.v, op));
    else if (op === 0x22 && a.k === 'const') stack.push(shift(b, a.v, op));
    else if (op === 0x1c && b.k === 'const') stack.push(shift(a, -b.v, op));
    else stack.push({ k: 'bad', op });
  };

  for (let n = 0; !r.done; n++) {
    if (n >= maxOps) return [{ kind: 'unsupported', opcode: -1, size: undefined }];
    const op = r.u8();
    if (op >= 0x30 && op <= 0x4f) stack.push({ k: 'const', v: op - 0x30 }); // DW_OP_lit0..31
    else if (op >= 0x50 && op <= 0x6f) reg = op - 0x50; // DW_OP_reg0..31
    else if (op >= 0x70 && op <= 0x8f) stack.push({ k: 'breg', reg: op - 0x70, off: r.slebLoose() }); // DW_OP_breg0..31
    else {
      switch (op) {
        case 0x03: // DW_OP_addr
          stack.push({ k: 'const', v: addressSize === 8 ? Number(r.u64big()) : r.u32() });
          break;
        case 0x08: stack.push({ k: 'const', v: r.u8() }); break; // const1u
        case 0x09: stack.push({ k: 'const', v: (r.u8() << 24) >> 24 }); break; // const1s
        case 0x0a: stack.push({ k: 'const', v: r.u16() }); break; // const2u
        case 0x0b: stack.push({ k: 'const', v: (r.u16() << 16) >> 16 }); break; // const2s
        case 0x0c: stack.push({ k: 'const', v: r.u32() }); break; // const4u
        case 0x0d: stack.push({ k: 'const', v: r.i32() }); break; // const4s
        case 0x0e: stack.push({ k: 'const', v: Number(r.u64big()) }); break; // const8u
        case 0x0f: stack.push({ k: 'const', v: r.i64() }); break; // const8s
        case 0x10: stack.push({ k: 'const', v: r.ulebLoose() }); break; // constu
        case 0x11: stack.push({ k: 'const', v: r.slebLoose() }); break; // consts
        case 0x12: { // dup
          const top = stack[stack.length - 1];
          stack.push(top ?? { k: 'bad', op });
          break;
        }
        case 0x13: stack.pop(); break; // drop
        case 0x1c: binary(op); break; // minus
        case 0x22: binary(op); break; // plus
        case 0x23: { // plus_uconst
          const v = r.ulebLoose();
          const top = stack.pop();
          if (!top || top.k === 'bad') stack.push(top ?? { k: 'bad', op });
          else stack.push(shift(top, v, op));
          break;
        }
        case 0x90: reg = r.uleb(); break; // regx
        case 0x91: stack.push({ k: 'fb', off: r.slebLoose() }); break; // fbreg
        case 0x92: { // bregx
          const rr = r.uleb();
          stack.push({ k: 'breg', reg: rr, off: r.slebLoose() });
          break;
        }
        case 0x93: // piece
          pieces.push(current(r.uleb()));
          reset();
          break;
        case 0x96: break; // nop
        case 0x9c: stack.push({ k: 'cfa', off: 0 }); break; // call_frame_cfa
        case 0x9d: { // bit_piece: keep it as a byte-rounded piece
          const bits = r.uleb();
          r.uleb();
          pieces.push(current(Math.ceil(bits / 8)));
          reset();
          break;
        }
        case 0x9e: { // implicit_value
          const len = r.uleb();
          const bytes = r.bytes(len);
          implicit = len === 0 ? 0 : len <= 6 ? bytes.readUIntLE(0, len) : Number.NaN;
          break;
        }
        case 0x9f: isValue = true; break; // stack_value
        default:
          // Anything else (deref, entry_value, convert, …) cannot be followed symbolically.
          unsupported = op;
          return [...pieces, current(undefined)];
      }
    }
  }
  if (expr.length > 0 && (stack.length > 0 || reg !== undefined || implicit !== undefined || pieces.length === 0)) {
    pieces.push(current(undefined));
  }
  return pieces;
}

/** Upper bound on location-list entries read for one variable. */
const maxListEntries = 100_000;

/** Reads a DWARF 2–4 location list at `offset` of .debug_loc; `base` is the unit's base address. */
export function readLocList(resolver: AttrResolver, unit: Unit, offset: number, base: number): DwarfLocationRange[] {
  const { path } = resolver;
  const r = new ByteReader(resolver.sections.loc, ElfErrorCode.badDwarf, `${path}: .debug_loc`, offset);
  const out: DwarfLocationRange[] = [];
  const maxAddr = unit.addressSize === 8 ? 0xffffffffffffffffn : 0xffffffffn;
  const addr = (): bigint => (unit.addressSize === 8 ? r.u64big() : BigInt(r.u32()));
  for (let n = 0; n < maxListEntries; n++) {
    const begin = addr();
    const end = addr();
    if (begin === 0n && end === 0n) return out;
    if (begin === maxAddr) {
      base = Number(end);
      continue;
    }
    const expr = r.bytes(r.u16());
    out.push({ lowPc: base + Number(begin), highPc: base + Number(end), pieces: decodeExpression(expr, unit.addressSize, path) });
  }
  return r.fail('location list too long');
}

/** Reads a DWARF 5 location list at `offset` of .debug_loclists. */
export function readLocLists(resolver: AttrResolver, unit: Unit, offset: number, base: number): DwarfLocationRange[] {
  const { path } = resolver;
  const r = new ByteReader(resolver.sections.loclists, ElfErrorCode.badDwarf, `${path}: .debug_loclists`, offset);
  const out: DwarfLocationRange[] = [];
  const addr = (): number => (unit.addressSize === 8 ? r.u64() : r.u32());
  const push = (lo: number, hi: number): void => {
    const expr = r.bytes(r.uleb());
    out.push({ lowPc: lo, highPc: hi, pieces: decodeExpression(expr, unit.addressSize, path) });
  };
  for (let n = 0; n < maxListEntries; n++) {
    const kind = r.u8();
    switch (kind) {
      case 0: // DW_LLE_end_of_list
        return out;
      case 1: // base_addressx
        base = resolver.addressAt(unit, r.uleb());
        break;
      case 2: { // startx_endx
        const lo = resolver.addressAt(unit, r.uleb());
        push(lo, resolver.addressAt(unit, r.uleb()));
        break;
      }
      case 3: { // startx_length
        const lo = resolver.addressAt(unit, r.uleb());
        push(lo, lo + r.uleb());
        break;
      }
      case 4: { // offset_pair
        const lo = r.uleb();
        push(base + lo, base + r.uleb());
        break;
      }
      case 5: // default_location
        push(0, Number.MAX_SAFE_INTEGER);
        break;
      case 6: // base_address
        base = addr();
        break;
      case 7: { // start_end
        const lo = addr();
        push(lo, addr());
        break;
      }
      case 8: { // start_length
        const lo = addr();
        push(lo, lo + r.uleb());
        break;
      }
      default:
        return r.fail(`unknown location list entry kind ${kind} at ${r.pos - 1}`);
    }
  }
  return r.fail('location list too long');
}

/** Offset of entry `index` of a DWARF 5 list-offsets table (loclists or rnglists) at `base`. */
export function listOffsetAt(data: Buffer, unit: Unit, base: number, index: number, what: string, path: string): number {
  const r = new ByteReader(data, ElfErrorCode.badDwarf, `${path}: ${what}`);
  const size = unit.offsetSize;
  return base + (size === 8 ? r.u64(base + index * 8) : r.u32(base + index * 4));
}

/** An address range from DW_AT_ranges or low/high PC. */
export interface PcRange {
  readonly lowPc: number;
  readonly highPc: number;
}

/** Reads a range list: .debug_ranges (DWARF 2–4) or .debug_rnglists (DWARF 5). */
export function readRanges(resolver: AttrResolver, unit: Unit, offset: number, base: number): PcRange[] {
  const { path } = resolver;
  const out: PcRange[] = [];
  if (unit.version < 5) {
    const r = new ByteReader(resolver.sections.ranges, ElfErrorCode.badDwarf, `${path}: .debug_ranges`, offset);
    const maxAddr = unit.addressSize === 8 ? 0xffffffffffffffffn : 0xffffffffn;
    for (let n = 0; n < maxListEntries; n++) {
      const begin = unit.addressSize === 8 ? r.u64big() : BigInt(r.u32());
      const end = unit.addressSize === 8 ? r.u64big() : BigInt(r.u32());
      if (begin === 0n && end === 0n) return out;
      if (begin === maxAddr) base = Number(end);
      else out.push({ lowPc: base + Number(begin), highPc: base + Number(end) });
    }
    return r.fail('range list too long');
  }
  const r = new ByteReader(resolver.sections.rnglists, ElfErrorCode.badDwarf, `${path}: .debug_rnglists`, offset);
  const addr = (): number => (unit.addressSize === 8 ? r.u64() : r.u32());
  for (let n = 0; n < maxListEntries; n++) {
    const kind = r.u8();
    switch (kind) {
      case 0:
        return out;
      case 1:
        base = resolver.addressAt(unit, r.uleb());
        break;
      case 2: {
        const lo = resolver.addressAt(unit, r.uleb());
        out.push({ lowPc: lo, highPc: resolver.addressAt(unit, r.uleb()) });
        break;
      }
      case 3: {
        const lo = resolver.addressAt(unit, r.uleb());
        out.push({ lowPc: lo, highPc: lo + r.uleb() });
        break;
      }
      case 4: {
        const lo = r.uleb();
        out.push({ lowPc: base + lo, highPc: base + r.uleb() });
        break;
      }
      case 5:
        base = addr();
        break;
      case 6: {
        const lo = addr();
        out.push({ lowPc: lo, highPc: addr() });
        break;
      }
      case 7: {
        const lo = addr();
        out.push({ lowPc: lo, highPc: lo + r.uleb() });
        break;
      }
      default:
        return r.fail(`unknown range list entry kind ${kind}`);
    }
  }
  return r.fail('range list too long');
}
