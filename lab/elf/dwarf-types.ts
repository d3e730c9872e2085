/**
 * DWARF type entries → the lab's Go type model (lab/abi/types.ts). Handles what gc emits
 * (named base types, `string` and `[]T` structs, typedefs over runtime.iface/eface and over
 * pointers for map/chan/func) and what gccgo emits (C-like structs with `__data`/`__length`,
 * `__values`/`__count`/`__capacity`, `__type_descriptor`/`__methods` + `__object`).
 */
import type { GoPointerType, GoStructField, GoType } from '../abi/types.ts';
import * as consts from './dwarf-consts.ts';
import type { AttrResolver, Die } from './dwarf-units.ts';

// Local copies: module-namespace reads are getter calls on hot paths.
const At = consts.At;
const GoKindAttr = consts.GoKindAttr;
const Tag = consts.Tag;

/** Types nested deeper than this (through non-pointer edges) are cut off as empty structs. */
const maxDepth = 64;

/** Converts type DIEs to {@link GoType}s, memoized by DIE offset. */
export class TypeConverter {
  private readonly cache = new Map<number, GoType>();
  /** Offsets being converted right now: a reference back to one is a cycle (only legal through pointers). */
  private readonly inProgress = new Set<number>();

  constructor(
    private readonly resolver: AttrResolver,
    private readonly dieAt: (offset: number) => Die | undefined,
  ) {}

  /** The Go type of the DIE at `offset`, or undefined when there is no such type DIE. */
  typeAt(offset: number | undefined, depth = 0): GoType | undefined {
    if (offset === undefined) return undefined;
    const cached = this.cache.get(offset);
    if (cached) return cached;
    const die = this.dieAt(offset);
    if (!die) return undefined;
    if (depth > maxDepth || this.inProgress.has(offset)) return opaque(this.name(die) ?? '?', 0);
    this.inProgress.add(offset);
    try {
      const type = this.convert(die, depth);
      this.cache.set(offset, type);
      return type;
    } finally {
      this.inProgress.delete(offset);
    }
  }

  private name(die: Die): string | undefined {
    return this.resolver.str(die, At.name);
  }

  private size(die: Die): number | undefined {
    return this.resolver.num(die, At.byteSize);
  }

  private convert(die: Die, depth: number): GoType {
    const r = this.resolver;
    const name = this.name(die);
    const goKind = r.num(die, At.goKind);
    const inner = (): GoType | undefined => this.typeAt(r.ref(die, At.type), depth + 1);
    switch (die.tag) {
      case Tag.baseType:
        return this.base(die, name ?? '?', goKind);
      case Tag.typedef:
      case Tag.constType:
      case Tag.volatileType: {
        const under = inner();
        if (!under) return opaque(name ?? 'void', 0);
        if (die.tag !== Tag.typedef || !name) return under;
        if (goKind === GoKindAttr.interface || under.kind === 'interface' || isIfaceStruct(under)) {
          return { kind: 'interface', name, size: 16, align: 8, empty: name === 'interface {}' || name === 'any' || under.name === 'runtime.eface' || isEface(under) };
        }
        if (under.kind === 'pointer') {
          const shape = goKind === GoKindAttr.map || name.startsWith('map[') ? 'map'
            : goKind === GoKindAttr.chan || /^(<-)?chan[ <]/.test(name) ? 'chan'
            : goKind === GoKindAttr.func || name.startsWith('func(') ? 'func' : under.shape;
          return shape === under.shape ? { ...under, name } : pointer(name, shape, undefined);
        }
        return { ...under, name } as GoType;
      }
      case Tag.pointerType: {
        const target = r.ref(die, At.type);
        const targetDie = target === undefined ? undefined : this.dieAt(target);
        const ptrName = name ?? (targetDie ? `*${this.name(targetDie) ?? '?'}` : 'unsafe.Pointer');
        if (!targetDie || ptrName === 'unsafe.Pointer') return pointer(ptrName, 'unsafe', undefined);
        if (targetDie.tag === Tag.subroutineType) return pointer(ptrName, 'func', undefined);
        // gccgo spells map, chan and func values as pointers to runtime structs.
        const targetName = this.name(targetDie);
        if (targetName === 'runtime.hmap') return pointer(ptrName, 'map', undefined);
        if (targetName === '__go_channel') return pointer(ptrName, 'chan', undefined);
        if (targetName === '__go_descriptor') return pointer(ptrName, 'func', undefined);
        // The element is converted on first use: types are recursive through pointers.
        return lazyPointer(ptrName, () => this.typeAt(target, 0));
      }
      case Tag.subroutineType:
        return pointer(name ?? 'func()', 'func', undefined);
      case Tag.structureType:
      case Tag.unionType:
      case Tag.classType:
        return this.struct(die, name, goKind, depth);
      case Tag.arrayType:
        return this.array(die, name, depth);
      case Tag.enumerationType:
        return { kind: 'int', name: name ?? 'enum', size: this.size(die) ?? 4, align: this.size(die) ?? 4, signed: true };
      default:
        return opaque(name ?? 'void', this.size(die) ?? 0);
    }
  }

  private base(die: Die, name: string, goKind: number | undefined): GoType {
    const size = this.size(die) ?? 0;
    const encoding = this.resolver.num(die, At.encoding);
    switch (encoding) {
      case 0x02:
        return { kind: 'bool', name, size, align: 1 };
      case 0x04:
        return { kind: 'float', name, size, align: size };
      case 0x03:
        return { kind: 'complex', name, size, align: size / 2 };
      case 0x05:
      case 0x06:
      case 0x0d:
        return { kind: 'int', name, size, align: size, signed: true };
      default:
        if (goKind === GoKindAttr.unsafePointer) return pointer(name, 'unsafe', undefined);
        return { kind: 'int', name, size, align: Math.max(1, size), signed: false };
    }
  }

  private members(die: Die, depth: number): GoStructField[] {
    const fields: GoStructField[] = [];
    for (const child of die.children) {
      if (child.tag !== Tag.member) continue;
      const type = this.typeAt(this.resolver.ref(child, At.type), depth + 1) ?? opaque('?', 0);
      fields.push({ name: this.name(child) ?? '', type, offset: this.resolver.num(child, At.dataMemberLocation) ?? 0 });
    }
    return fields;
  }

  private struct(die: Die, name: string | undefined, goKind: number | undefined, depth: number): GoType {
    const size = this.size(die) ?? 0;
    const fields = this.members(die, depth);
    const names = fields.map((f) => f.name).join(',');
    if (goKind === GoKindAttr.string || name === 'string' || names === '__data,__length') {
      return { kind: 'string', name: name ?? 'string', size: 16, align: 8 };
    }
    const sliceElem = (): GoType | undefined => {
      const goElem = this.typeAt(this.resolver.ref(die, At.goElem), depth + 1);
      if (goElem) return goElem;
      const data = fields[0]?.type;
      return data && data.kind === 'pointer' ? data.elem : undefined;
    };
    if (goKind === GoKindAttr.slice || name?.startsWith('[]') || names === '__values,__count,__capacity') {
      const elem = sliceElem() ?? opaque('?', 0);
      return { kind: 'slice', name: name ?? `[]${elem.name}`, size: 24, align: 8, elem };
    }
    if (names === '__type_descriptor,__object' || names === '__methods,__object') {
      return { kind: 'interface', name: name ?? 'interface {}', size: 16, align: 8, empty: names.startsWith('__type') };
    }
    if (goKind === GoKindAttr.complex64 || goKind === GoKindAttr.complex128) {
      return { kind: 'complex', name: name ?? 'complex', size, align: size / 2 };
    }
    const align = fields.reduce((a, f) => Math.max(a, f.type.align), 1);
    return { kind: 'struct', name: name ?? 'struct {…}', size, align, fields };
  }

  private array(die: Die, name: string | undefined, depth: number): GoType {
    const elem = this.typeAt(this.resolver.ref(die, At.type), depth + 1) ?? opaque('?', 0);
    let length = 0;
    const range = die.children.find((c) => c.tag === Tag.subrangeType);
    if (range) {
      const count = this.resolver.num(range, At.count);
      const upper = this.resolver.num(range, At.upperBound);
      length = count ?? (upper !== undefined ? upper + 1 : 0);
    }
    if (!Number.isSafeInteger(length) || length < 0) length = 0;
    const size = this.size(die) ?? elem.size * length;
    return { kind: 'array', name: name ?? `[${length}]${elem.name}`, size, align: elem.align, elem, length };
  }
}

function pointer(name: string, shape: GoPointerType['shape'], elem: GoType | undefined): GoType {
  return elem ? { kind: 'pointer', name, size: 8, align: 8, shape, elem } : { kind: 'pointer', name, size: 8, align: 8, shape };
}

/** A `*T` whose `elem` is resolved on first access (and then kept). */
function lazyPointer(name: string, resolve: () => GoType | undefined): GoType {
  const type = { kind: 'pointer', name, size: 8, align: 8, shape: 'pointer' } as { kind: 'pointer'; name: string; size: number; align: number; shape: 'pointer'; elem?: GoType };
  let done = false;
  let value: GoType | undefined;
  Object.defineProperty(type, 'elem', {
    enumerable: true,
    configurable: true,
    get(): GoType | undefined {
      if (!done) {
        done = true;
        value = resolve();
      }
      return value;
    },
  });
  return type;
}

/** A type this reader cannot describe further: an empty struct of the given size. */
function opaque(name: string, size: number): GoType {
  return { kind: 'struct', name, size, align: 1, fields: [] };
}

function isIfaceStruct(t: GoType): boolean {
  return t.kind === 'struct' && (t.name === 'runtime.iface' || t.name === 'runtime.eface');
}

function isEface(t: GoType): boolean {
  return t.kind === 'interface' ? t.empty : t.name === 'runtime.eface';
}
