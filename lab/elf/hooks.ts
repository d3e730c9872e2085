/**
 * Late-bound DWARF queries used by the function finder. The DWARF reader registers them when
 * it loads, so functions.ts does not import the (much larger) DWARF reader itself.
 */
import type { ElfFile } from './file.ts';

/** DWARF-backed answers for {@link findFunction} and {@link goVersionOf}. */
export const dwarfHooks: {
  /** True when DWARF describes `name` only as inlined (no out-of-line instance). */
  isInlinedOnly?: (elf: ElfFile, name: string) => boolean;
  /** The `go1.x` token of a compile unit's DW_AT_producer. */
  producerGoVersion?: (elf: ElfFile) => string | undefined;
} = {};
