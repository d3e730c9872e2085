/**
 * lab/abi: the Go type model and where each calling convention puts a function's parameters
 * and results on amd64.
 */
export type * from './types.ts';
export { ABI_NAMES, layoutFunction } from './layout.ts';
export type { AbiName, FunctionLayout, IntReg, Piece, ValueLocation } from './layout.ts';
export { abiForGoVersion } from './version.ts';
export { alignUp, arrayOf, goTypes, interfaceNamed, pointerTo, signature, sliceOf, structOf } from './construct.ts';
export { GC_FLOAT_REG_COUNT, GC_INT_REGS } from './gc.ts';
export { SYSV_INT_ARG_REGS, SYSV_INT_RESULT_REGS, SYSV_SSE_ARG_COUNT, SYSV_SSE_RESULT_COUNT, classify } from './sysv.ts';
