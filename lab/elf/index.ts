/**
 * lab/elf reads what tracing a Go function needs from an x86-64 ELF binary: sections,
 * segments and symbols, the Go build information, the pclntab function table (for stripped
 * binaries) and DWARF (parameter names, types and locations). Every malformed input ends in a
 * typed {@link GolabError}.
 */
export { ElfFile, type ElfSection, type ElfSegment, type ElfSymbol } from './file.ts';
export { ElfErrorCode } from './errors.ts';
export { readBuildInfo, type GoBuildInfo } from './buildinfo.ts';
export { readPclntab, type Pclntab, type PclnFunction } from './pclntab.ts';
export { listGoFunctions, findFunction, functionBytes, goVersionOf, gccgoMethodName, nearestNames, type GoFunction } from './functions.ts';
export {
  readDwarf, isInlinedOnly, locationAt, dwarfRegisterName,
  type DwarfInfo, type DwarfUnit, type DwarfFunction, type DwarfParam, type DwarfVariable, type DwarfLocation, type DwarfLocationRange, type DwarfPiece,
} from './dwarf.ts';
