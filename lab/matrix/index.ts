/**
 * lab/matrix: the lab's main job — every Go toolchain × build mode × kernel, every zoo function
 * traced, rewritten and compared with the zoo's own printout, in one report.
 *
 * compare.ts renders traced values in the zoo's format; classify.ts turns comparisons into
 * pass / fail / unsupported; rewrite.ts derives the new values; cell.ts runs one cell on the
 * running kernel; run.ts runs them all (VM kernels through lab/vm); render-*.ts and output.ts
 * write matrix.json, MATRIX.md and matrix.html.
 */
export * from './types.ts';
export { compareCall, compareValue, goQuote, goUnquote, zooSymbol, UNREADABLE_MARK, type ValueComparison } from './compare.ts';
export { classifyCheck, valueOutcome, sameForAll, type ClassifiedValue, type ValueOutcome } from './classify.ts';
export { deriveRewriteValue, rewriteCandidates, sameLengthVariant, intRange, isRewritableKind, type RewriteChoice, type DerivedValue } from './rewrite.ts';
export { runCell, zooSymbolFor, isReadOnlyAddress, planFailureCheck, type CellInput, type CellOutput } from './cell.ts';
export { runMatrix, runHostCells, runVmKernel, buildZoos, toolchainInfo, HOST_KERNEL, type MatrixOptions, type MatrixProgress, type HostCellsOptions, type CellsFileLine } from './run.ts';
export { countStatuses, emptyCounts, formatCounts, formatDuration, summaryLines, failureLines } from './summary.ts';
export { renderMarkdown, renderMatrixTable, renderToolchainSummary, renderReasonsByKernel, renderKernelList, unsupportedReasons, reasonKey, reasonParts, countsCell } from './render-md.ts';
export { renderHtml, escapeHtml, checkTitle, checkClass } from './render-html.ts';
export { writeReport, type ReportFiles } from './output.ts';
