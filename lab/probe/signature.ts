/**
 * A traced function's signature and calling convention, from DWARF: the binary's own, or that
 * of an unstripped build of the same source (`--types-from`), since `-ldflags=-s -w` removes it.
 */
import { abiForGoVersion } from '../abi/version.ts';
import type { AbiName } from '../abi/layout.ts';
import type { GoParam, GoSignature } from '../abi/types.ts';
import { ExitCode, GolabError } from '../errors.ts';
import { ElfFile, gccgoMethodName, goVersionOf, readDwarf, type DwarfFunction, type DwarfInfo } from '../elf/index.ts';

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
  const fn = dwarfFunction(dwarf, name);
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
  let signature: GoSignature = {
    params: unique.filter((p) => !p.isReturn).map((p) => ({ name: p.name, type: p.type! })),
    results: unique.filter((p) => p.isReturn).map((p, i) => ({ name: resultName(p.name, i), type: p.type! })),
  };
  if (isGccgo(fn.producer)) signature = gccgoSignature(fn, signature);
  const version = goVersionOf(binary) ?? '';
  return { signature, abi: abiForGoVersion(version, fn.producer), typesFrom: typesFrom.path, producer: fn.producer };
}

/** True for gccgo's DWARF producer, `GNU Go 12.2.0 -mtune=generic …`. */
function isGccgo(producer: string): boolean {
  return producer.startsWith('GNU Go');
}

/**
 * `name`'s DWARF entry; for `pkg.(*T).M` also gccgo's spelling `pkg.T.M` (gccgo names value
 * and pointer-receiver methods alike), taken only when that entry is gccgo's.
 */
function dwarfFunction(dwarf: DwarfInfo, name: string): DwarfFunction | undefined {
  const fn = dwarf.function(name);
  if (fn) return fn;
  const alias = gccgoMethodName(name);
  const aliased = alias === undefined ? undefined : dwarf.function(alias);
  return aliased && isGccgo(aliased.producer) ? aliased : undefined;
}

/**
 * Completes a gccgo signature from what gccgo's DWARF says differently from gc's:
 *
 * - Results: gccgo emits no result parameters. The subprogram's DW_AT_type is the result type:
 *   one result (named `r0`: the source's name of a single named result is not told apart
 *   from a local variable, so it is not looked for), or with several results a struct whose
 *   fields are the results, named as in the source; unnamed ones (`UNNAMED`) become `r<i>`.
 * - A value receiver: gccgo passes it by address, as a parameter it names `pointer` (`r.0.pointer`
 *   when the source leaves the receiver unnamed or `_`), declared at the function's own
 *   position (the `func` keyword), and copies it into a variable with the receiver's Go name
 *   (`r.0` when unnamed) and type at that same position. That copy is what tells a value
 *   receiver from a pointer receiver the source happens to name `pointer` (also declared at
 *   the function's position, but never copied). The signature gets the receiver's type (the
 *   pointee), the copy's name, and `receiver: 'value'`, so the System V layout reads the bytes
 *   through the pointer. Without a copy in DWARF the parameter stays what DWARF says, a
 *   pointer named `pointer`: the receiver's value and Go name are then not known from DWARF.
 */
function gccgoSignature(fn: DwarfFunction, signature: GoSignature): GoSignature {
  let { params, results } = signature;
  let receiver: GoSignature['receiver'];
  if (results.length === 0 && fn.resultType) {
    const type = fn.resultType;
    results =
      fn.resultTypeIsList && type.kind === 'struct'
        ? type.fields.map((f, i) => ({ name: gccgoResultName(f.name, i), type: f.type }))
        : [{ name: 'r0', type }];
  }
  const first = fn.params[0];
  const pointee = first?.type?.kind === 'pointer' ? first.type.elem : undefined;
  const atFunction = (x: { declLine?: number; declColumn?: number }): boolean => x.declLine === fn.declLine && x.declColumn === fn.declColumn;
  if (first && !first.isReturn && /(^|\.)pointer$/.test(first.name) && pointee && atFunction(first)) {
    const copy = fn.variables.find((v) => atFunction(v) && v.name !== '' && v.type?.name === pointee.name && v.type.size === pointee.size);
    if (copy) {
      const value: GoParam = { name: copy.name, type: pointee };
      params = [value, ...params.slice(1)];
      receiver = 'value';
    }
  }
  return receiver ? { params, results, receiver } : { params, results };
}

/** A gccgo result-struct field's name as Go source names the result: `UNNAMED`, `$retN`, `_` or empty → `r<i>`. */
export function gccgoResultName(field: string, index: number): string {
  return field === '' || field === 'UNNAMED' || field === '_' || /^\$ret\d+$/.test(field) ? `r${index}` : field;
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
