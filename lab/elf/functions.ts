/**
 * Go functions by name: from `.symtab` when the binary has one, else from the pclntab (the
 * only name source a stripped gc binary keeps). Each function carries the file offset of its
 * first instruction, which is what uprobes (and bcc_resolve_symname) use, PIE or not.
 */
import { GolabError, isGolabError } from '../errors.ts';
import { readBuildInfo } from './buildinfo.ts';
import { ElfErrorCode, elfError } from './errors.ts';
import { type ElfFile, PF } from './file.ts';
import { readPclntab } from './pclntab.ts';
import { isInlinedOnly, producerGoVersion } from './dwarf.ts';

/** A function located in a binary. */
export interface GoFunction {
  /** The Go symbol name, e.g. `main.ebpfDemo`. */
  readonly name: string;
  /** Virtual address of the first instruction. */
  readonly vaddr: number;
  /** Length of the machine code in bytes. */
  readonly size: number;
  /** File offset of the first instruction: the uprobe offset libbcc takes. */
  readonly fileOffset: number;
  /** Which table named it. */
  readonly source: 'symtab' | 'pclntab';
}

const listCache = new WeakMap<ElfFile, GoFunction[]>();
const indexCache = new WeakMap<ElfFile, Map<string, GoFunction>>();

/**
 * Every function of the binary, in address order: `.symtab` FUNC symbols when present, else
 * the pclntab's functions. Functions whose code is not in the file are left out.
 * @throws GolabError GO_STRIPPED_NO_PCLNTAB when neither table exists.
 */
export function listGoFunctions(elf: ElfFile): GoFunction[] {
  const cached = listCache.get(elf);
  if (cached) return cached;
  const out: GoFunction[] = [];
  const push = (name: string, vaddr: number, size: number, source: GoFunction['source']): void => {
    const seg = elf.segmentOf(vaddr);
    if (!seg || (seg.flags & PF.x) === 0 || !name) return;
    const fileSize = Math.max(0, Math.min(size, seg.vaddr + seg.filesz - vaddr));
    out.push({ name, vaddr, size: fileSize, fileOffset: vaddr - seg.vaddr + seg.offset, source });
  };
  const funcs = elf.symbols().filter((s) => s.type === 'func' && s.sectionIndex !== 0 && s.value !== 0);
  if (funcs.length > 0) {
    for (const s of funcs) push(s.name, s.value, s.size, 'symtab');
  } else {
    let table;
    try {
      table = readPclntab(elf);
    } catch (error) {
      if (isGolabError(error, ElfErrorCode.noPclntab)) {
        throw elfError(ElfErrorCode.strippedNoPclntab, `${elf.path} has no symbol table and no Go function table`, 'Use an unstripped build (without -ldflags=-s), or a gc-built binary: stripped gccgo and C binaries cannot be traced by name.');
      }
      throw error;
    }
    for (const f of table.functions) push(f.name, f.entry, f.end - f.entry, 'pclntab');
  }
  out.sort((a, b) => a.vaddr - b.vaddr);
  listCache.set(elf, out);
  return out;
}

/**
 * The function named `name`.
 * @throws GolabError FUNCTION_NOT_FOUND (its hint lists up to five nearest names),
 *   FUNCTION_INLINED when DWARF says it exists only inlined, GO_STRIPPED_NO_PCLNTAB.
 */
export function findFunction(elf: ElfFile, name: string): GoFunction {
  let index = indexCache.get(elf);
  if (!index) {
    index = new Map();
    for (const f of listGoFunctions(elf)) if (!index.has(f.name)) index.set(f.name, f);
    indexCache.set(elf, index);
  }
  const found = index.get(name) ?? gccgoFallback(index, name);
  if (found) return found;
  if (isInlinedOnly(elf, name)) {
    throw elfError(ElfErrorCode.functionInlined, `${name} exists only inlined into its callers in ${elf.path}; it has no code of its own to probe`, `Mark it //go:noinline and rebuild, or trace its callers instead.`);
  }
  const near = nearestNames(name, [...index.keys()], 5);
  throw new GolabError(ElfErrorCode.functionNotFound, `function ${name} not found in ${elf.path}`, {
    hint: near.length > 0 ? `Did you mean: ${near.join(', ')}?` : 'List the functions with `go tool nm` and use the full name, e.g. main.(*T).Method.',
    exitCode: 2,
  });
}

/**
 * The name gccgo gives a method that Go (and gc) spell with a pointer receiver:
 * `main.(*Account).Transfer` → `main.Account.Transfer`. gccgo's symbols and DWARF name value-
 * and pointer-receiver methods alike `pkg.T.M`. Undefined when `name` has no `(*T)` part.
 */
export function gccgoMethodName(name: string): string | undefined {
  const match = /^(.*)\.\(\*([^()]+)\)\.([^.()]+)$/.exec(name);
  return match ? `${match[1]}.${match[2]}.${match[3]}` : undefined;
}

/**
 * `pkg.(*T).M` looked up as gccgo names it, but only in a binary with no `(*T)` name at all:
 * every gc binary has some (the runtime's own methods), and there `pkg.T.M` is a different
 * function, the value-receiver method.
 */
function gccgoFallback(index: ReadonlyMap<string, GoFunction>, name: string): GoFunction | undefined {
  const alias = gccgoMethodName(name);
  if (alias === undefined || !index.has(alias)) return undefined;
  for (const known of index.keys()) if (known.includes('.(*')) return undefined;
  return index.get(alias);
}

/** The machine code of a function, for disassembly. */
export function functionBytes(elf: ElfFile, fn: GoFunction): Buffer {
  return elf.fileRange(fn.fileOffset, fn.size, `code of ${fn.name}`);
}

/**
 * The Go version the binary was built with: `.go.buildinfo` first, else the version token of a
 * DWARF producer (`Go cmd/compile go1.19.8; regabi`). Undefined when neither names one (gccgo).
 */
export function goVersionOf(elf: ElfFile): string | undefined {
  try {
    return readBuildInfo(elf).goVersion;
  } catch (error) {
    if (!isGolabError(error)) throw error;
  }
  return producerGoVersion(elf);
}

/**
 * Up to `limit` names closest to `query`: names that end with it (`ebpfDemo` → `main.ebpfDemo`)
 * first, then by Levenshtein distance, cut off at half the query's length.
 */
export function nearestNames(query: string, names: readonly string[], limit: number): string[] {
  const maxDistance = Math.max(3, Math.floor(query.length / 2));
  const scored: { name: string; score: number }[] = [];
  const lower = query.toLowerCase();
  for (const name of names) {
    const ln = name.toLowerCase();
    if (ln.endsWith(`.${lower}`) || ln.endsWith(lower)) {
      scored.push({ name, score: -1 });
      continue;
    }
    if (Math.abs(name.length - query.length) > maxDistance) continue;
    const d = levenshtein(lower, ln, maxDistance);
    if (d <= maxDistance && d < query.length) scored.push({ name, score: d });
  }
  scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name));
  return scored.slice(0, limit).map((s) => s.name);
}

/** Edit distance with an early exit once every cell of a row exceeds `cap`. */
function levenshtein(a: string, b: string, cap: number): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      row.push(v);
      if (v < best) best = v;
    }
    if (best > cap) return cap + 1;
    prev = row;
  }
  return prev[b.length]!;
}
