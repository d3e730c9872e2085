/**
 * The DWARF reader: compile units with their producers, functions with their formal
 * parameters (names, Go types, locations), and which functions exist only inlined.
 * Reads DWARF 2–5 as gc and gccgo emit it, from plain or compressed sections.
 */
import type { GoType } from '../abi/types.ts';
import { isGolabError } from '../errors.ts';
import * as consts from './dwarf-consts.ts';
import {
  decodeExpression, listOffsetAt, readLocList, readLocLists, readRanges,
  type DwarfLocation, type DwarfPiece, type PcRange,
} from './dwarf-location.ts';
import { TypeConverter } from './dwarf-types.ts';
import { AttrResolver, loadDebugSections, parseUnits, type Die, type Unit } from './dwarf-units.ts';
import { ElfErrorCode, elfError } from './errors.ts';
import type { ElfFile } from './file.ts';

// Local copies: module-namespace reads are getter calls on hot paths.
const At = consts.At;
const Form = consts.Form;
const Tag = consts.Tag;

export { dwarfRegisterName, type DwarfLocation, type DwarfLocationRange, type DwarfPiece, type PcRange } from './dwarf-location.ts';

/** A compile unit. */
export interface DwarfUnit {
  /** DW_AT_name: the package path (gc) or source file (gccgo). */
  readonly name: string;
  /** DW_AT_producer, e.g. `Go cmd/compile go1.19.8; regabi` or `GNU Go 12.2.0 …`. */
  readonly producer: string;
  /** The unit header's DWARF version (2–5). */
  readonly version: number;
}

/** A formal parameter (argument or result) of a function. */
export interface DwarfParam {
  readonly name: string;
  /** True for results: gc marks them with DW_AT_variable_parameter. */
  readonly isReturn: boolean;
  /** The Go type, when the DIE names one this reader understands. */
  readonly type: GoType | undefined;
  /** Where the value lives; undefined when DWARF gives no location. */
  readonly location: DwarfLocation | undefined;
  /** DW_AT_decl_line, when given. */
  readonly declLine?: number;
  /** DW_AT_decl_column, when given. */
  readonly declColumn?: number;
}

/**
 * A variable declared directly in a function's scope (not in a nested lexical block). gccgo
 * declares its result variables (`$ret0`, or the source's result names) and the copy of a value
 * receiver here.
 */
export interface DwarfVariable {
  readonly name: string;
  /** The Go type, when the DIE names one this reader understands. */
  readonly type: GoType | undefined;
  /** True when the variable's type DIE is the function's own DW_AT_type DIE. */
  readonly hasResultType: boolean;
  /** DW_AT_decl_line, when given. */
  readonly declLine?: number;
  /** DW_AT_decl_column, when given. */
  readonly declColumn?: number;
}

/** A function (DW_TAG_subprogram). */
export interface DwarfFunction {
  readonly name: string;
  /** Entry address of the out-of-line code; undefined for functions that exist only inlined. */
  readonly lowPc: number | undefined;
  /** Address just past the code. */
  readonly highPc: number | undefined;
  /** All code ranges (more than one when the compiler split the function). */
  readonly ranges: readonly PcRange[];
  /** True when DW_AT_inline is set and no out-of-line instance with code exists. */
  readonly inlinedOnly: boolean;
  /** True when the frame base is DW_OP_call_frame_cfa (gc, and gccgo at -O0), so fbreg = CFA-relative. */
  readonly frameBaseIsCfa: boolean;
  /** Parameters then results, in declaration order. gccgo emits no result parameters: see resultType. */
  readonly params: readonly DwarfParam[];
  /**
   * The subprogram's DW_AT_type. gc sets none; gccgo sets it to the function's result type:
   * the single result's type, or, with several results, an anonymous struct whose fields are
   * the results in order (see {@link resultTypeIsList}).
   */
  readonly resultType?: GoType;
  /**
   * True when {@link resultType} is gccgo's struct of several results rather than a single
   * result of an anonymous struct type. gccgo declares one variable per result, of that
   * result's type; only a single struct-typed result has a variable of the function's own
   * DW_AT_type DIE, so this is "resultType is an unnamed struct and no variable has it".
   */
  readonly resultTypeIsList: boolean;
  /** Variables declared directly in the function's scope. */
  readonly variables: readonly DwarfVariable[];
  /** DW_AT_decl_line of the function, when given. */
  readonly declLine?: number;
  /** DW_AT_decl_column of the function, when given. */
  readonly declColumn?: number;
  /** The producer of the unit the function is in. */
  readonly producer: string;
}

/** Everything the lab takes from DWARF. */
export interface DwarfInfo {
  readonly units: readonly DwarfUnit[];
  /** True when any producer has the `regabi` token (gc 1.17+ register ABI). */
  readonly regabi: boolean;
  /** Functions with code, plus functions that exist only inlined, in DIE order. */
  readonly functions: readonly DwarfFunction[];
  /** The function with this name (an out-of-line instance when there is one). */
  function(name: string): DwarfFunction | undefined;
  /** The Go type of the type DIE at a .debug_info offset. */
  typeAt(offset: number): GoType | undefined;
}

const cache = new WeakMap<ElfFile, DwarfInfo>();

/**
 * Reads the binary's DWARF. Parsed once per ElfFile and cached.
 * @throws GolabError DWARF_MISSING when there is no .debug_info (built with -w, or stripped),
 *   DWARF_MALFORMED when it does not decode.
 */
export function readDwarf(elf: ElfFile): DwarfInfo {
  const cached = cache.get(elf);
  if (cached) return cached;
  const sections = loadDebugSections(elf);
  if (!sections) {
    throw elfError(ElfErrorCode.noDwarf, `${elf.path} has no DWARF debugging information`, 'Rebuild without -ldflags=-w (and without -s), or for gccgo with -g.');
  }
  const units = parseUnits(sections, elf.path);
  const resolver = new AttrResolver(sections, elf.path);
  const byOffset = new Map<number, Die>();
  // Every DIE by offset: types, abstract origins and specifications may sit at any depth.
  const pending: Die[] = units.flatMap((u) => (u.root ? [u.root] : []));
  for (let die = pending.pop(); die; die = pending.pop()) {
    byOffset.set(die.offset, die);
    for (const c of die.children) pending.push(c);
  }
  const types = new TypeConverter(resolver, (o) => byOffset.get(o));
  const info = buildInfo(units, resolver, types, (o) => byOffset.get(o));
  cache.set(elf, info);
  return info;
}

function buildInfo(units: Unit[], r: AttrResolver, types: TypeConverter, dieAt: (o: number) => Die | undefined): DwarfInfo {
  const dwarfUnits: DwarfUnit[] = [];
  const functions: DwarfFunction[] = [];
  // Abstract origins (DW_AT_inline) that have an out-of-line concrete instance with code.
  const concreteOrigins = new Set<number>();
  const abstracts: { die: Die; producer: string }[] = [];

  for (const unit of units) {
    const root = unit.root;
    if (!root || (root.tag !== Tag.compileUnit && root.tag !== Tag.partialUnit && root.tag !== Tag.skeletonUnit)) continue;
    const producer = r.str(root, At.producer) ?? '';
    dwarfUnits.push({ name: r.str(root, At.name) ?? '', producer, version: unit.version });
    const base = r.num(root, At.lowPc) ?? 0;
    const visit = (die: Die, depth: number): void => {
      if (die.tag === Tag.subprogram) {
        const fn = subprogram(die, unit, base, producer, r, types, dieAt);
        if (fn === 'abstract') abstracts.push({ die, producer });
        else if (fn) {
          functions.push(fn.fn);
          if (fn.origin !== undefined) concreteOrigins.add(fn.origin);
        }
      } else if (depth < 4 && (die.tag === Tag.lexicalBlock || die.tag === Tag.compileUnit || die.tag === Tag.partialUnit || die.tag === Tag.classType || die.tag === Tag.structureType)) {
        for (const c of die.children) visit(c, depth + 1);
      }
    };
    visit(root, 0);
  }
  for (const { die, producer } of abstracts) {
    if (concreteOrigins.has(die.offset)) continue;
    const fn = { name: r.str(die, At.name) ?? '', lowPc: undefined, highPc: undefined, ranges: [], inlinedOnly: true, frameBaseIsCfa: false, producer };
    functions.push(withLazyDetails(fn, () => details(die, undefined, undefined, 0, r, types, dieAt)));
  }
  const byName = new Map<string, DwarfFunction>();
  for (const f of functions) {
    const prev = byName.get(f.name);
    if (!prev || (prev.lowPc === undefined && f.lowPc !== undefined)) byName.set(f.name, f);
  }
  return {
    units: dwarfUnits,
    regabi: dwarfUnits.some((u) => /(^|[\s;])regabi(\b|$)/.test(u.producer)),
    functions,
    function: (name) => byName.get(name),
    typeAt: (offset) => types.typeAt(offset),
  };
}

function subprogram(
  die: Die, unit: Unit, base: number, producer: string, r: AttrResolver, types: TypeConverter, dieAt: (o: number) => Die | undefined,
): { fn: DwarfFunction; origin: number | undefined } | 'abstract' | undefined {
  const originOffset = r.ref(die, At.abstractOrigin) ?? r.ref(die, At.specification);
  const origin = originOffset === undefined ? undefined : dieAt(originOffset);
  const ranges = codeRanges(die, unit, base, r);
  if (ranges.length === 0) {
    if (r.attr(die, At.inline) && !origin) return 'abstract';
    return undefined; // a declaration
  }
  const name = r.str(die, At.name) ?? (origin ? r.str(origin, At.name) : undefined) ?? r.str(die, At.linkageName) ?? '';
  const frameBase = r.attr(die, At.frameBase);
  const frameBaseIsCfa = Buffer.isBuffer(frameBase?.value) && frameBase.value.length === 1 && frameBase.value[0] === 0x9c;
  const lowPc = Math.min(...ranges.map((x) => x.lowPc));
  const highPc = Math.max(...ranges.map((x) => x.highPc));
  const fn = { name, lowPc, highPc, ranges, inlinedOnly: false, frameBaseIsCfa, producer };
  return { fn: withLazyDetails(fn, () => details(die, origin, unit, base, r, types, dieAt)), origin: originOffset };
}

/** The parts of a {@link DwarfFunction} decoded only when asked for. */
type FunctionDetails = Pick<DwarfFunction, 'params' | 'resultType' | 'resultTypeIsList' | 'variables' | 'declLine' | 'declColumn'>;
type FunctionBasics = Omit<DwarfFunction, keyof FunctionDetails>;
const detailKeys = ['params', 'resultType', 'resultTypeIsList', 'variables', 'declLine', 'declColumn'] as const satisfies readonly (keyof FunctionDetails)[];

/**
 * Adds the parameters, variables and result type as getters decoded on first access: a binary
 * has thousands of functions and a tracer asks for the parameters of a few.
 */
function withLazyDetails(fn: FunctionBasics, decode: () => FunctionDetails): DwarfFunction {
  let value: FunctionDetails | undefined;
  for (const key of detailKeys) {
    Object.defineProperty(fn, key, { enumerable: true, get: () => (value ??= decode())[key] });
  }
  return fn as DwarfFunction;
}

function details(
  die: Die, origin: Die | undefined, unit: Unit | undefined, base: number, r: AttrResolver, types: TypeConverter, dieAt: (o: number) => Die | undefined,
): FunctionDetails {
  const from = (at: number): Die => (r.attr(die, at) || !origin ? die : origin);
  const resultOffset = r.ref(from(At.type), At.type);
  const resultType = types.typeAt(resultOffset);
  const variables: DwarfVariable[] = [];
  for (const child of die.children) {
    if (child.tag !== Tag.variable) continue;
    const typeOffset = r.ref(child, At.type);
    variables.push({
      name: r.str(child, At.name) ?? '',
      type: types.typeAt(typeOffset),
      hasResultType: typeOffset !== undefined && typeOffset === resultOffset,
      ...declPosition(child, r),
    });
  }
  const resultTypeIsList = resultType?.kind === 'struct' && r.str(dieAt(resultOffset!) ?? die, At.name) === undefined && !variables.some((v) => v.hasResultType);
  return {
    params: params(die, unit, base, r, types, dieAt),
    ...(resultType ? { resultType } : {}),
    resultTypeIsList,
    variables,
    ...declPosition(from(At.declLine), r),
  };
}

function declPosition(die: Die, r: AttrResolver): { declLine?: number; declColumn?: number } {
  const line = r.num(die, At.declLine);
  const column = r.num(die, At.declColumn);
  return { ...(line !== undefined ? { declLine: line } : {}), ...(column !== undefined ? { declColumn: column } : {}) };
}

/** The code ranges of a DIE: DW_AT_low_pc/high_pc, or DW_AT_ranges. */
function codeRanges(die: Die, unit: Unit, base: number, r: AttrResolver): PcRange[] {
  const low = r.num(die, At.lowPc);
  if (low !== undefined) {
    const highAttr = r.attr(die, At.highPc);
    let high = r.num(die, At.highPc) ?? low;
    // DWARF 4+: a constant-class high_pc is a length.
    if (highAttr && highAttr.form !== Form.addr && !(highAttr.form >= Form.addrx1 && highAttr.form <= Form.addrx4) && highAttr.form !== Form.addrx) {
      high = low + high;
    }
    return [{ lowPc: low, highPc: high }];
  }
  const rangesAttr = r.attr(die, At.ranges);
  if (!rangesAttr || typeof rangesAttr.value !== 'number') return [];
  let offset = rangesAttr.value;
  if (rangesAttr.form === Form.rnglistx) {
    offset = listOffsetAt(r.sections.rnglists, unit, r.unitBases(unit).rnglists, offset, '.debug_rnglists', r.path);
  }
  return readRanges(r, unit, offset, base).filter((x) => x.highPc > x.lowPc);
}

function params(
  die: Die, unit: Unit | undefined, base: number, r: AttrResolver, types: TypeConverter, dieAt: (o: number) => Die | undefined,
): DwarfParam[] {
  const out: DwarfParam[] = [];
  for (const child of die.children) {
    if (child.tag !== Tag.formalParameter) continue;
    const originOffset = r.ref(child, At.abstractOrigin);
    const origin = originOffset === undefined ? undefined : dieAt(originOffset);
    const from = (at: number): Die => (r.attr(child, at) || !origin ? child : origin);
    out.push({
      name: r.str(from(At.name), At.name) ?? '',
      isReturn: r.flag(from(At.variableParameter), At.variableParameter),
      type: types.typeAt(r.ref(from(At.type), At.type)),
      location: unit ? location(child, unit, base, r) : undefined,
      ...declPosition(from(At.declLine), r),
    });
  }
  return out;
}

function location(die: Die, unit: Unit, base: number, r: AttrResolver): DwarfLocation | undefined {
  const a = r.attr(die, At.location);
  if (!a) return undefined;
  if (Buffer.isBuffer(a.value)) return { kind: 'expr', pieces: decodeExpression(a.value, unit.addressSize, r.path) };
  if (typeof a.value !== 'number') return undefined;
  if (unit.version >= 5) {
    let offset = a.value;
    if (a.form === Form.loclistx) {
      offset = listOffsetAt(r.sections.loclists, unit, r.unitBases(unit).loclists, offset, '.debug_loclists', r.path);
    }
    return { kind: 'list', ranges: readLocLists(r, unit, offset, base) };
  }
  return { kind: 'list', ranges: readLocList(r, unit, a.value, base) };
}

/** True when DWARF describes `name` only as inlined: no out-of-line instance has code. */
export function isInlinedOnly(elf: ElfFile, name: string): boolean {
  try {
    return readDwarf(elf).function(name)?.inlinedOnly ?? false;
  } catch (error) {
    if (isGolabError(error)) return false;
    throw error;
  }
}

/** The `go1.x…` token of the first DWARF producer that has one. */
export function producerGoVersion(elf: ElfFile): string | undefined {
  try {
    for (const u of readDwarf(elf).units) {
      const m = /\bgo1[.\d]*[\w.-]*/.exec(u.producer);
      if (m) return m[0];
    }
  } catch (error) {
    if (!isGolabError(error)) throw error;
  }
  return undefined;
}

/**
 * The pieces of a location that hold at `pc`: the expression itself, or the range of a
 * location list containing `pc`. Undefined when the value has no location there.
 */
export function locationAt(location: DwarfLocation | undefined, pc: number): readonly DwarfPiece[] | undefined {
  if (!location) return undefined;
  if (location.kind === 'expr') return location.pieces;
  return location.ranges.find((r) => pc >= r.lowPc && pc < r.highPc)?.pieces;
}
