/**
 * lab/bcc: a typed binding to libbcc through koffi.
 *
 * - library.ts: the C functions, with prototypes chosen for the loaded library's API level;
 * - module.ts: compile C text, load programs, find tables;
 * - uprobe.ts: attach and detach uprobes by path and file offset;
 * - perf-buffer.ts / ring-buffer.ts: event delivery on the event loop.
 */
export { loadLibBcc, type LibBcc, type CPointer } from './library.ts';
export { selectApiLevel, versionFromFileName, compareVersions, type BccApiLevel } from './signatures.ts';
export { BpfModule, type CompileOptions, type LoadedProgram } from './module.ts';
export { Uprobe, removeStaleUprobeEvents, UPROBE_EVENT_PREFIX, type UprobeTarget } from './uprobe.ts';
export { PerfBuffer, type PerfBufferOptions, type EventHandler } from './perf-buffer.ts';
export { RingBuffer } from './ring-buffer.ts';
export { captureNativeOutput } from './capture.ts';
