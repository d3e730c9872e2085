/**
 * The typed errors of lab/elf. Every failure a malformed or unsuitable binary can cause ends
 * in one of these codes, so callers (and the fuzzer) can tell "this input is bad" from a bug.
 */
import { ExitCode, GolabError, type ExitCodeValue } from '../errors.ts';

/** The stable error codes lab/elf throws. */
export const ElfErrorCode = {
  /** The path does not exist. */
  notFound: 'ELF_NOT_FOUND',
  /** The path is a directory. */
  isDirectory: 'ELF_IS_DIRECTORY',
  /** The file does not start with the ELF magic. */
  notElf: 'ELF_NOT_ELF',
  /** ELF, but not 64-bit little-endian x86-64. */
  wrongArch: 'ELF_WRONG_ARCH',
  /** A header, table or section points past the end of the file. */
  truncated: 'ELF_TRUNCATED',
  /** A structure is inconsistent in a way truncation does not explain. */
  malformed: 'ELF_MALFORMED',
  /** A virtual address is not backed by file bytes of any PT_LOAD segment. */
  unmapped: 'ELF_UNMAPPED_ADDRESS',
  /** A compressed section uses a method this reader cannot inflate, or does not inflate. */
  compression: 'ELF_BAD_COMPRESSION',
  /** No `.go.buildinfo` blob (not a Go binary, or gccgo). */
  noBuildInfo: 'GO_NO_BUILDINFO',
  /** No `.gopclntab` (not a gc-built Go binary). */
  noPclntab: 'GO_NO_PCLNTAB',
  /** The pclntab was found but does not decode. */
  badPclntab: 'GO_BAD_PCLNTAB',
  /** No symbols and no pclntab: nothing names the functions. */
  strippedNoPclntab: 'GO_STRIPPED_NO_PCLNTAB',
  /** The function name is not in the binary. */
  functionNotFound: 'FUNCTION_NOT_FOUND',
  /** DWARF says the function exists only inlined into its callers. */
  functionInlined: 'FUNCTION_INLINED',
  /** The binary has no DWARF (built with `-ldflags=-w` or stripped). */
  noDwarf: 'DWARF_MISSING',
  /** DWARF sections that do not decode. */
  badDwarf: 'DWARF_MALFORMED',
} as const;

/** A value of {@link ElfErrorCode}. */
export type ElfErrorCodeValue = (typeof ElfErrorCode)[keyof typeof ElfErrorCode];

const defaultExit: Record<ElfErrorCodeValue, ExitCodeValue> = {
  ELF_NOT_FOUND: ExitCode.usage,
  ELF_IS_DIRECTORY: ExitCode.usage,
  FUNCTION_NOT_FOUND: ExitCode.usage,
  FUNCTION_INLINED: ExitCode.usage,
  ELF_NOT_ELF: ExitCode.badBinary,
  ELF_WRONG_ARCH: ExitCode.badBinary,
  ELF_TRUNCATED: ExitCode.badBinary,
  ELF_MALFORMED: ExitCode.badBinary,
  ELF_UNMAPPED_ADDRESS: ExitCode.badBinary,
  ELF_BAD_COMPRESSION: ExitCode.badBinary,
  GO_NO_BUILDINFO: ExitCode.badBinary,
  GO_NO_PCLNTAB: ExitCode.badBinary,
  GO_BAD_PCLNTAB: ExitCode.badBinary,
  GO_STRIPPED_NO_PCLNTAB: ExitCode.badBinary,
  DWARF_MISSING: ExitCode.badBinary,
  DWARF_MALFORMED: ExitCode.badBinary,
};

/** Builds a {@link GolabError} with one of the lab/elf codes and its default exit code. */
export function elfError(code: ElfErrorCodeValue, message: string, hint: string, detail?: string): GolabError {
  return new GolabError(code, message, { hint, exitCode: defaultExit[code], detail });
}
