/**
 * gccgo's calling convention on amd64: the System V AMD64 C ABI applied to Go's types.
 *
 * gccgo lowers Go values to C-like aggregates (a string is {data, len}, a slice {data, len, cap},
 * an interface {type-or-itab, data}) and returns several results as one struct of them. System V
 * then classifies each aggregate per eightbyte (psABI §3.2.3):
 * - larger than two eightbytes: MEMORY (passed on the stack; returned through a hidden pointer
 *   the caller passes in RDI and the callee returns in RAX);
 * - otherwise each eightbyte is INTEGER if any scalar in it is an integer, else SSE;
 * - INTEGER eightbytes take RDI, RSI, RDX, RCX, R8, R9 (results: RAX, RDX), SSE eightbytes take
 *   XMM0–XMM7 (results: XMM0, XMM1), each argument wholly or, if the registers run out, wholly
 *   on the stack, in 8-byte-aligned slots from SP+8.
 * Zero-size values are ignored: they take neither registers nor stack.
 * A value receiver is passed as a pointer to the receiver (gccgo's DWARF names that parameter
 * `pointer`), so it takes one integer register and its bytes are read through it.
 */
import { alignUp, structOf } from './construct.ts';
import type { FunctionLayout, IntReg, Piece, ValueLocation } from './layout.ts';
import { leavesOf } from './leaves.ts';
import type { GoParam, GoSignature, GoType } from './types.ts';

/** System V integer argument registers, in order. */
export const SYSV_INT_ARG_REGS: readonly IntReg[] = ['di', 'si', 'dx', 'cx', 'r8', 'r9'];
/** System V integer result registers, in order. */
export const SYSV_INT_RESULT_REGS: readonly IntReg[] = ['ax', 'dx'];
/** Number of SSE argument registers (XMM0–XMM7). */
export const SYSV_SSE_ARG_COUNT = 8;
/** Number of SSE result registers (XMM0, XMM1). */
export const SYSV_SSE_RESULT_COUNT = 2;

const EIGHTBYTE = 8;
const RETURN_PC_SIZE = 8;

/** The System V class of one eightbyte; `none` when it holds only padding. */
type EightbyteClass = 'int' | 'sse' | 'none';

/** A value's classification: passed in memory, or per-eightbyte classes. */
type Classification = { memory: true } | { memory: false; eightbytes: EightbyteClass[] };

/** Classifies a value of `type` (psABI §3.2.3, restricted to what Go types can contain). */
export function classify(type: GoType): Classification {
  if (type.size > 2 * EIGHTBYTE) return { memory: true };
  const leaves = leavesOf(type, { refuseLongArrays: false }) ?? [];
  const eightbytes: EightbyteClass[] = [];
  for (let i = 0; i * EIGHTBYTE < type.size; i++) {
    const inside = leaves.filter((leaf) => Math.floor(leaf.offset / EIGHTBYTE) === i);
    eightbytes.push(inside.length === 0 ? 'none' : inside.some((leaf) => leaf.cls === 'int') ? 'int' : 'sse');
  }
  return { memory: false, eightbytes };
}

/** Where each eightbyte of a register-class value went. */
type EightbyteHome = { where: 'reg'; reg: IntReg } | { where: 'xmm'; index: number } | undefined;

/** The pieces of bytes [start, start+size) of a value whose eightbytes live in `homes`. */
function piecesFrom(homes: readonly EightbyteHome[], start: number, size: number): Piece[] {
  const pieces: Piece[] = [];
  for (let i = 0; i < homes.length; i++) {
    const home = homes[i];
    const lo = Math.max(start, i * EIGHTBYTE);
    const hi = Math.min(start + size, (i + 1) * EIGHTBYTE);
    if (home === undefined || hi <= lo) continue;
    const common = { size: hi - lo, valueOffset: lo - start };
    const regOffset = lo - i * EIGHTBYTE;
    const extra = regOffset === 0 ? {} : { regOffset };
    pieces.push(home.where === 'reg' ? { where: 'reg', reg: home.reg, ...common, ...extra } : { where: 'xmm', index: home.index, ...common, ...extra });
  }
  return pieces;
}

/**
 * What gccgo returns for a result list: the single result itself, or a struct of them; with
 * each result's offset in it.
 */
function resultAggregate(results: readonly GoParam[]): { type: GoType; offsets: number[] } | undefined {
  const [first] = results;
  if (first === undefined) return undefined;
  if (results.length === 1) return { type: first.type, offsets: [0] };
  const type = structOf('results', results.map((r, i) => [`r${i}`, r.type] as const));
  return { type, offsets: type.fields.map((field) => field.offset) };
}

/** Computes the System V layout gccgo uses. */
export function layoutSysv(signature: GoSignature): FunctionLayout {
  const layout: FunctionLayout = { abi: 'sysv', params: [], results: [], frameArgSize: 0 };
  let usedInt = 0;
  let usedSse = 0;

  // Results first: a MEMORY result consumes RDI for the hidden pointer before any argument.
  const aggregate = resultAggregate(signature.results);
  if (aggregate !== undefined) {
    const cls = classify(aggregate.type);
    const { offsets } = aggregate;
    if (cls.memory) {
      layout.hiddenResultPointer = { where: 'reg', reg: SYSV_INT_ARG_REGS[usedInt++] as IntReg, size: 8, valueOffset: 0 };
      layout.hiddenResultPointerAtReturn = { where: 'reg', reg: 'ax', size: 8, valueOffset: 0 };
      layout.results = signature.results.map((r, i) => ({
        name: r.name,
        type: r.type,
        pieces: r.type.size === 0 ? [] : [{ where: 'indirect', offset: offsets[i] ?? 0, size: r.type.size, valueOffset: 0 }],
      }));
    } else {
      let resultInt = 0;
      let resultSse = 0;
      const homes = cls.eightbytes.map((c): EightbyteHome => {
        if (c === 'int') return { where: 'reg', reg: SYSV_INT_RESULT_REGS[resultInt++] as IntReg };
        if (c === 'sse') return { where: 'xmm', index: resultSse++ };
        return undefined;
      });
      layout.results = signature.results.map((r, i) => ({
        name: r.name,
        type: r.type,
        pieces: piecesFrom(homes, offsets[i] ?? 0, r.type.size),
      }));
    }
  }

  let stackOffset = 0;
  layout.params = signature.params.map((param, index): ValueLocation => {
    const { name, type } = param;
    if (index === 0 && signature.receiver === 'value') {
      const reg = SYSV_INT_ARG_REGS[usedInt++] as IntReg;
      return { name, type, pieces: type.size === 0 ? [] : [{ where: 'deref', reg, offset: 0, size: type.size, valueOffset: 0 }] };
    }
    if (type.size === 0) return { name, type, pieces: [] };
    const cls = classify(type);
    if (!cls.memory) {
      const needInt = cls.eightbytes.filter((c) => c === 'int').length;
      const needSse = cls.eightbytes.filter((c) => c === 'sse').length;
      if (needInt <= SYSV_INT_ARG_REGS.length - usedInt && needSse <= SYSV_SSE_ARG_COUNT - usedSse) {
        const homes = cls.eightbytes.map((c): EightbyteHome => {
          if (c === 'int') return { where: 'reg', reg: SYSV_INT_ARG_REGS[usedInt++] as IntReg };
          if (c === 'sse') return { where: 'xmm', index: usedSse++ };
          return undefined;
        });
        return { name, type, pieces: piecesFrom(homes, 0, type.size) };
      }
    }
    const offset = alignUp(stackOffset, Math.max(EIGHTBYTE, type.align));
    stackOffset = offset + alignUp(type.size, EIGHTBYTE);
    return { name, type, pieces: [{ where: 'stack', offset: RETURN_PC_SIZE + offset, size: type.size, valueOffset: 0 }] };
  });
  layout.frameArgSize = stackOffset;
  return layout;
}
