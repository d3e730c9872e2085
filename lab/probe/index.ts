/**
 * lab/probe: from a function's layout to a BCC program, and from its events back to Go values.
 *
 * plan.ts decides what each uprobe reads, codegen.ts writes the C, decode.ts reads events,
 * calls.ts pairs entries with returns, session.ts runs it all through lab/bcc.
 */
export { planFunction, DEFAULT_LIMITS, EVENT_HEADER_SIZE, type FunctionPlan, type ProbeSpec, type ReadLimits, type RewriteValue } from './plan.ts';
export { generateProgram, type GeneratedProgram, type Transport } from './codegen.ts';
export { decodeEvent, decodeHeader, type DecodedEvent, type EventHeader } from './decode.ts';
export { CallAssembler, type TracedCall } from './calls.ts';
export { TraceSession, ModuleCache, planSession, type TraceOptions, type SessionFunction } from './session.ts';
export { resolveSignature, type ResolvedSignature } from './signature.ts';
export { formatValue, formatFloat, valueToJson, type GoValue, type NamedValue } from './values.ts';
export { findReturnOffsets, findFirstXmmSpill } from './disasm.ts';
