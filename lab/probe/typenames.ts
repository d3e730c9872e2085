/**
 * Names for interface type words: the address of a `*runtime._type` or `*runtime.itab` is the
 * address of a linker symbol (`type:main.Point`, `go:itab.main.Circle,main.Shape`; before Go
 * 1.20 `type.main.Point`, `go.itab.…`), so an unstripped binary names the dynamic type.
 */
import type { ElfFile } from '../elf/index.ts';
import type { TypeNamer } from './decode.ts';

/** The dynamic type named by a type or itab symbol, or undefined for other symbols. */
export function dynamicTypeName(symbol: string): string | undefined {
  const itab = /^go[.:]itab\.(.+?),/.exec(symbol);
  if (itab) return itab[1];
  const type = /^type[.:](.+)$/.exec(symbol);
  if (type && !type[1]!.startsWith('.')) return type[1];
  return undefined;
}

/** A {@link TypeNamer} over the binary's symbol table (empty for stripped binaries). */
export function typeNamerFor(elf: ElfFile): TypeNamer {
  let byAddress: Map<number, string> | undefined;
  return (address) => {
    if (!byAddress) {
      byAddress = new Map();
      for (const symbol of elf.symbols()) {
        if (symbol.type === 'func') continue;
        const name = dynamicTypeName(symbol.name);
        if (name !== undefined && !byAddress.has(symbol.value)) byAddress.set(symbol.value, name);
      }
    }
    return byAddress.get(Number(address));
  };
}
