/**
 * Where a Go function's parameters and results live: at its first instruction (parameters) and
 * at each of its RET instructions (results), under the calling convention that compiled it.
 *
 * The lab computes these locations from the ABI rules rather than trusting DWARF location
 * lists, which are known to be wrong or missing for register arguments (golang/go#45720,
 * #46845, #61700, #72833); DWARF is used only to cross-check (crosscheck.test.ts).
 */
import type { GoSignature, GoType } from './types.ts';
import { layoutGc } from './gc.ts';
import { layoutSysv } from './sysv.ts';

/**
 * The calling convention of a function:
 * - `abi0`: gc's stack ABI (every gc function before Go 1.17; assembly functions always);
 * - `abiinternal`: gc's register ABI on amd64 (Go functions from Go 1.17 on);
 * - `sysv`: the System V AMD64 C convention, which gccgo uses.
 */
export type AbiName = 'abi0' | 'abiinternal' | 'sysv';

/** Every {@link AbiName}. */
export const ABI_NAMES: readonly AbiName[] = ['abi0', 'abiinternal', 'sysv'];

/**
 * An integer register as a field of BCC's x86-64 `struct pt_regs` (`ctx->ax`, `ctx->r8`, …),
 * so generated BPF C can use the name verbatim.
 */
export type IntReg =
  | 'ax' | 'bx' | 'cx' | 'dx' | 'si' | 'di' | 'bp' | 'sp'
  | 'r8' | 'r9' | 'r10' | 'r11' | 'r12' | 'r13' | 'r14' | 'r15';

/**
 * One contiguous part of a value and where it is. `valueOffset` is the part's byte offset
 * within the value's memory layout and `size` its length, so a decoder can reassemble the
 * value's bytes and decode them by its {@link GoType}.
 */
export type Piece =
  /** Bytes on the stack at `offset` from SP, measured at entry (return PC at SP+0) or at RET. */
  | { where: 'stack'; offset: number; size: number; valueOffset: number }
  /**
   * The low bytes of an integer register, or bytes starting at `regOffset` in it (System V packs
   * small struct fields and multiple results into one eightbyte).
   */
  | { where: 'reg'; reg: IntReg; size: number; valueOffset: number; regOffset?: number }
  /** An XMM register X`index` (not in pt_regs, so not readable by a uprobe program). */
  | { where: 'xmm'; index: number; size: number; valueOffset: number; regOffset?: number }
  /**
   * System V results returned in memory: bytes at `offset` from the hidden result pointer (see
   * {@link FunctionLayout.hiddenResultPointer}).
   */
  | { where: 'indirect'; offset: number; size: number; valueOffset: number }
  /**
   * Bytes at `offset` from the pointer held in integer register `reg` at entry: gccgo passes a
   * value receiver as a pointer to it (System V only).
   */
  | { where: 'deref'; reg: IntReg; offset: number; size: number; valueOffset: number };

/** Where one parameter or result lives. A zero-size value has no pieces. */
export interface ValueLocation {
  /** The parameter's name from the signature. */
  name: string;
  /** Its Go type. */
  type: GoType;
  /** Its parts, in `valueOffset` order. */
  pieces: Piece[];
  /**
   * ABIInternal only, register-assigned parameters only: the spill slot the caller reserves
   * for it, SP-relative at entry. The callee may store the register there (often at once, for
   * floats), but the caller leaves it uninitialized, so it is not readable at entry.
   */
  spill?: { offset: number };
}

/** Where all parameters and results of one function live. */
export interface FunctionLayout {
  /** The convention the layout was computed for. */
  abi: AbiName;
  /** Receiver (if any) first, then the parameters, at the first instruction. */
  params: ValueLocation[];
  /** The results, at every RET. */
  results: ValueLocation[];
  /**
   * System V only, when results are returned in memory: where the caller passes the hidden
   * result pointer at entry (RDI).
   */
  hiddenResultPointer?: Piece;
  /**
   * System V only, when results are returned in memory: where the callee returns that same
   * pointer at RET (RAX), so `indirect` result pieces can be read from a RET probe alone.
   */
  hiddenResultPointerAtReturn?: Piece;
  /**
   * Bytes of the caller-reserved argument area above the return PC: stack arguments and
   * results (and, for ABIInternal, the spill area), i.e. gc's argument width.
   */
  frameArgSize: number;
}

/** Computes where every parameter and result of a function with `signature` lives under `abi`. */
export function layoutFunction(signature: GoSignature, abi: AbiName): FunctionLayout {
  switch (abi) {
    case 'abi0':
    case 'abiinternal':
      return layoutGc(signature, abi);
    case 'sysv':
      return layoutSysv(signature);
  }
}
