/**
 * A traced function's signature and calling convention, from DWARF: the binary's own, or that
 * of an unstripped build of the same source (`--types-from`), since `-ldflags=-s -w` removes it.
 */
import { abiForGoVersion } from '../abi/version.ts';
import type { AbiName } from '../abi/layout.ts';
import type { GoSignature } from '../abi/types.ts';
import { ExitCode, GolabError } from '../errors.ts';
import { ElfFile, goVersionOf, readDwarf } from '../elf/index.ts';

/** A function's signature and the ABI it was compiled for. */
export interface ResolvedSignature {
  readonly signature: GoSignature;
  readonly abi: AbiName;
  /** Where the types came from. */
  readonly typesFrom: string;
  /** The DWARF producer, e.g. `Go cmd/compile go1.19.8; regabi`. */
  readonly producer: string;
}

/**
 * Finds `name`'s parameters and results in the DWARF of `typesFrom` (default: the binary) and
 * picks the ABI from the producer, else from the binary's Go version.
 */
export function resolveSignature(binary: ElfFile, name: string, typesFrom: ElfFile = binary): ResolvedSignature {
  let dwarf;
  try {
    dwarf = readDwarf(typesFrom);
  } catch (error) {
    throw noTypes(typesFrom.path, name, error);
  }
  const fn = dwarf.function(name);
  if (!fn) {
    if (dwarf.functions.length === 0) throw noTypes(typesFrom.path, name);
    throw new GolabError('FUNCTION_NO_DWARF', `${typesFrom.path} has no DWARF entry for ${name}`, {
      hint: 'check the name (golab trace lists near names when it is not in the binary at all), or pass --types-from with a build that has it',
      exitCode: ExitCode.badBinary,
    });
  }
  const missing = fn.params.filter((p) => p.type === undefined).map((p) => p.name);
  if (missing.length > 0) {
    throw new GolabError('FUNCTION_UNSUPPORTED_TYPES', `${name}: the types of ${missing.join(', ')} are not understood`, {
      hint: 'trace a function whose parameters are integers, floats, bools, strings, slices, pointers, structs, arrays or interfaces',
      exitCode: ExitCode.badBinary,
    });
  }
  // gc ≥ 1.18 can emit a result's DIE twice (cf. golang/go#51725): keep the first of each name.
  const seen = new Set<string>();
  const unique = fn.params.filter((p) => {
    const key = `${p.isReturn}:${p.name}`;
    if (p.name !== '' && seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const signature: GoSignature = {
    params: unique.filter((p) => !p.isReturn).map((p) => ({ name: p.name, type: p.type! })),
    results: unique.filter((p) => p.isReturn).map((p, i) => ({ name: resultName(p.name, i), type: p.type! })),
  };
  const version = goVersionOf(binary) ?? '';
  return { signature, abi: abiForGoVersion(version, fn.producer), typesFrom: typesFrom.path, producer: fn.producer };
}

/**
 * Unnamed results are `~r0`, `~r1` (Go ≥ 1.17: by result index; before: by index among all
 * parameters, e.g. `~r3`) or empty (gccgo). They become `r<index among the results>`, as Go
 * source would number them.
 */
export function resultName(dwarfName: string, index: number): string {
  return dwarfName === '' || /^~[rb]\d+$/.test(dwarfName) ? `r${index}` : dwarfName;
}

function noTypes(path: string, name: string, cause?: unknown): GolabError {
  return new GolabError('BINARY_NO_DWARF', `${path} has no DWARF debug info, so the types of ${name}'s arguments are unknown`, {
    hint: 'pass --types-from PATH with an unstripped build of the same source (built without -ldflags=-s -w)',
    exitCode: ExitCode.badBinary,
    cause,
  });
}

/** Opens the binary whose DWARF gives the types, reusing the traced one when it is the same. */
export function openTypesFrom(binary: ElfFile, path: string | undefined): ElfFile {
  return path === undefined || path === binary.path ? binary : ElfFile.open(path);
}
