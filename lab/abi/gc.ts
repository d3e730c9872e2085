/**
 * gc's calling conventions on amd64: ABIInternal (Go 1.17+) and ABI0 (before 1.17, and assembly
 * functions on every version).
 *
 * The rules are those of src/cmd/compile/abi-internal.md, as implemented by
 * cmd/compile/internal/abi (assignParam, tryAllocRegs, nextSlot):
 * - each value goes wholly into registers or wholly onto the stack; a value that does not fit
 *   in the remaining registers, or contains an array of two or more elements, is stacked and
 *   the register counters are left as they were, so later values may still use registers;
 * - zero-size values are always "stacked" (they only contribute alignment);
 * - the stack sequence is: stacked receiver and arguments, pointer alignment, stacked results,
 *   pointer alignment, then a spill slot per register-assigned argument in memory layout;
 * - results restart at RAX and X0.
 * ABI0 is exactly this algorithm with no registers at all.
 */
import { alignUp } from './construct.ts';
import type { FunctionLayout, IntReg, Piece, ValueLocation } from './layout.ts';
import { leavesOf } from './leaves.ts';
import type { GoParam, GoSignature } from './types.ts';

/** ABIInternal's integer argument registers on amd64, in assignment order. */
export const GC_INT_REGS: readonly IntReg[] = ['ax', 'bx', 'cx', 'di', 'si', 'r8', 'r9', 'r10', 'r11'];
/** ABIInternal's floating-point argument registers on amd64: X0 through X14. */
export const GC_FLOAT_REG_COUNT = 15;

const POINTER_SIZE = 8;
/** At entry and at RET, SP points at the return PC; the argument area starts above it. */
const RETURN_PC_SIZE = 8;

/** Per-value result of assignment, before SP-relative offsets are known. */
interface Assignment {
  param: GoParam;
  /** Register pieces, or undefined when stack-assigned. */
  registers?: Piece[];
  /** Offset in the stack sequence (stack-assigned) or the spill area (register arguments). */
  offset?: number;
}

/** Computes a gc layout; `abi0` is ABIInternal with zero registers. */
export function layoutGc(signature: GoSignature, abi: 'abi0' | 'abiinternal'): FunctionLayout {
  const intRegs = abi === 'abiinternal' ? GC_INT_REGS.length : 0;
  const floatRegs = abi === 'abiinternal' ? GC_FLOAT_REG_COUNT : 0;
  let stackOffset = 0;
  let spillOffset = 0;
  let usedInt = 0;
  let usedFloat = 0;

  const nextSlot = (offset: number, param: GoParam): number => alignUp(offset, param.type.align);

  const assign = (param: GoParam, isResult: boolean): Assignment => {
    const registers = param.type.size === 0 ? undefined : tryRegisters(param);
    if (registers === undefined) {
      const offset = nextSlot(stackOffset, param);
      stackOffset = offset + param.type.size;
      return { param, offset };
    }
    if (isResult) return { param, registers };
    const offset = nextSlot(spillOffset, param);
    spillOffset = offset + param.type.size;
    return { param, registers, offset };
  };

  // All-or-nothing: count the registers first, and only then take them.
  const tryRegisters = (param: GoParam): Piece[] | undefined => {
    const leaves = leavesOf(param.type, { refuseLongArrays: true });
    if (leaves === undefined) return undefined;
    const needInt = leaves.filter((leaf) => leaf.cls === 'int').length;
    const needFloat = leaves.length - needInt;
    if (needInt > intRegs - usedInt || needFloat > floatRegs - usedFloat) return undefined;
    return leaves.map((leaf): Piece => {
      if (leaf.cls === 'int') {
        const reg = GC_INT_REGS[usedInt++] as IntReg;
        return { where: 'reg', reg, size: leaf.size, valueOffset: leaf.offset };
      }
      return { where: 'xmm', index: usedFloat++, size: leaf.size, valueOffset: leaf.offset };
    });
  };

  const params = signature.params.map((param) => assign(param, false));
  stackOffset = alignUp(stackOffset, POINTER_SIZE);
  usedInt = 0;
  usedFloat = 0;
  const results = signature.results.map((param) => assign(param, true));
  const spillArea = alignUp(stackOffset, POINTER_SIZE);
  const spillAreaSize = alignUp(spillOffset, POINTER_SIZE);

  const locate = (a: Assignment): ValueLocation => {
    const { name, type } = a.param;
    if (a.registers !== undefined) {
      const location: ValueLocation = { name, type, pieces: a.registers };
      if (a.offset !== undefined) location.spill = { offset: RETURN_PC_SIZE + spillArea + a.offset };
      return location;
    }
    const pieces: Piece[] =
      type.size === 0 ? [] : [{ where: 'stack', offset: RETURN_PC_SIZE + (a.offset ?? 0), size: type.size, valueOffset: 0 }];
    return { name, type, pieces };
  };

  return {
    abi,
    params: params.map(locate),
    results: results.map(locate),
    frameArgSize: spillArea + spillAreaSize,
  };
}
