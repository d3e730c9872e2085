/**
 * Comparing what the lab traced with what the zoo printed. The logic lives in lab/matrix (it is
 * the compatibility matrix's core); the zoo test uses it from here.
 */
export { compareCall, compareValue, goQuote, goUnquote, zooSymbol, type ValueComparison } from '../../lab/matrix/compare.ts';
