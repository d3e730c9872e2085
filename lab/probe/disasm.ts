/**
 * Disassembly a tracer needs, with iced-x86 (WebAssembly):
 * - every RET of a function, because results are read by uprobes on RET instructions (uretprobes
 *   corrupt Go stacks: golang/go#22008, iovisor/bcc#1320);
 * - the first store of a float argument register to the stack, because uprobes see only
 *   pt_regs, which has no XMM registers: a probe placed just after that store reads the float
 *   from memory instead.
 */
import iced from 'iced-x86';
import type { Instruction as IcedInstruction } from 'iced-x86';

const { Decoder, DecoderOptions, FlowControl, Mnemonic, OpKind, Register, RegisterExt, InstructionInfoFactory, OpAccess, Code } = iced;

/** What the analyses here need from one decoded instruction. */
interface Insn {
  readonly ip: number;
  readonly length: number;
  readonly nextIp: number;
  readonly mnemonic: number;
  readonly flow: number;
  /** Target of a direct branch or call, if any. */
  readonly target?: number;
  readonly invalid: boolean;
}

/** Decodes `code` (placed at `vaddr`) linearly, turning each instruction into an {@link Insn}. */
function decodeAll(code: Buffer, vaddr: number, visit?: (insn: Insn, raw: IcedInstruction) => boolean): Insn[] {
  const decoder = new Decoder(64, new Uint8Array(code.buffer, code.byteOffset, code.byteLength), DecoderOptions.None);
  decoder.ip = BigInt(vaddr);
  const out: Insn[] = [];
  try {
    while (decoder.canDecode) {
      const raw = decoder.decode();
      try {
        const insn = summarize(raw);
        out.push(insn);
        if (visit !== undefined && !visit(insn, raw)) break;
      } finally {
        raw.free();
      }
    }
  } finally {
    decoder.free();
  }
  return out;
}

function summarize(raw: IcedInstruction): Insn {
  const flow = raw.flowControl;
  const direct =
    (flow === FlowControl.UnconditionalBranch || flow === FlowControl.ConditionalBranch || flow === FlowControl.Call) &&
    (raw.op0Kind === OpKind.NearBranch64 || raw.op0Kind === OpKind.NearBranch32 || raw.op0Kind === OpKind.NearBranch16);
  const base = {
    ip: Number(raw.ip),
    length: raw.length,
    nextIp: Number(raw.nextIP),
    mnemonic: raw.mnemonic,
    flow,
    invalid: raw.code === Code.INVALID,
  };
  return direct ? { ...base, target: Number(raw.nearBranchTarget) } : base;
}

/**
 * The virtual address of every near RET in a function's code, in address order.
 *
 * The code is decoded linearly from the entry: ENDBR64 decodes as an ordinary instruction, and
 * INT3 padding or undecodable bytes after the last instruction are skipped, not fatal. Go
 * functions are contiguous (no data in the middle), so a linear sweep sees every instruction.
 */
export function findReturnOffsets(code: Buffer, functionVaddr: number): number[] {
  return decodeAll(code, functionVaddr)
    .filter((insn) => !insn.invalid && insn.mnemonic === Mnemonic.Ret)
    .map((insn) => insn.ip);
}

/** A store of a float argument register to the stack, found by {@link findFirstXmmSpill}. */
export interface XmmSpill {
  /** Address of the storing instruction; a uprobe goes on the instruction after it. */
  readonly vaddr: number;
  /** Address of the instruction after the store, where a uprobe can read the value. */
  readonly probeVaddr: number;
  /** Where the value is, as an offset from SP at function entry (return PC at +0). */
  readonly spOffsetAtEntry: number;
  /** SP at entry minus SP at the probe address: add it to the probe's SP to get the entry SP. */
  readonly entrySpDelta: number;
  /** Bytes stored: 4 for float32, 8 for float64. */
  readonly size: 4 | 8;
}

/** Scalar stores from an XMM register to memory, with the number of bytes they store. */
const SCALAR_STORES: ReadonlyMap<number, 4 | 8> = new Map<number, 4 | 8>([
  [Mnemonic.Movss, 4],
  [Mnemonic.Vmovss, 4],
  [Mnemonic.Movd, 4],
  [Mnemonic.Vmovd, 4],
  [Mnemonic.Movsd, 8],
  [Mnemonic.Vmovsd, 8],
  [Mnemonic.Movq, 8],
  [Mnemonic.Vmovq, 8],
  [Mnemonic.Movlps, 8],
  [Mnemonic.Movlpd, 8],
]);

/** The longest prologue examined: Go and gccgo prologues are a handful of instructions. */
const MAX_PROLOGUE_INSTRUCTIONS = 64;

/**
 * The first instruction on the function's normal path that stores X`xmmIndex` to the stack,
 * before anything can change X`xmmIndex`; undefined when there is none.
 *
 * Walks forward from the entry tracking how far SP (and RBP, when it is set from SP) has moved,
 * through PUSH, SUB/ADD RSP, LEA and MOV RBP. A conditional branch is a prologue's stack check:
 * the walk continues on the fall-through path (gc: the branch goes to the morestack tail, which
 * re-enters at the entry) unless that path reaches a CALL or RET first, in which case it
 * continues at the branch target (gccgo's -fsplit-stack: the fall-through calls __morestack and
 * returns). It gives up at any other CALL, RET or jump, at any instruction that writes X`n`
 * (or YMM/ZMM `n`) or an SP/RBP change it cannot follow, and when some branch elsewhere in the
 * function lands between the entry and the probe address (the value there might then be
 * something else).
 */
export function findFirstXmmSpill(code: Buffer, functionVaddr: number, xmmIndex: number): XmmSpill | undefined {
  if (!Number.isInteger(xmmIndex) || xmmIndex < 0 || xmmIndex > 31) throw new RangeError(`no XMM register ${xmmIndex}`);
  const spill = findFirstStore(code, functionVaddr, { xmm: xmmIndex });
  return spill === undefined || spill.size === 1 || spill.size === 2 ? undefined : { ...spill, size: spill.size };
}

/** An integer argument register, named as pt_regs names it (`di`, `r8`, …). */
export type StoredRegister = { int: 'ax' | 'bx' | 'cx' | 'dx' | 'si' | 'di' | 'r8' | 'r9' | 'r10' | 'r11' } | { xmm: number };

/** A store of an argument register to the stack, found by {@link findFirstStore}. */
export interface RegisterStore extends Omit<XmmSpill, 'size'> {
  /** Bytes stored (the width of the register operand: DIL 1, EDI 4, RDI 8, MOVSS 4, …). */
  readonly size: 1 | 2 | 4 | 8;
}

const FULL_INT_REGISTERS: Readonly<Record<string, number>> = {
  ax: Register.RAX, bx: Register.RBX, cx: Register.RCX, dx: Register.RDX, si: Register.RSI, di: Register.RDI,
  r8: Register.R8, r9: Register.R9, r10: Register.R10, r11: Register.R11,
};

/**
 * Like {@link findFirstXmmSpill}, for an integer register too: the first prologue instruction
 * that stores the register (any width of it: DIL, EDI, RDI) to [RSP+d] or [RBP+d] before it is
 * overwritten. gccgo at -O0 copies every register argument to a home slot this way, which is
 * how the DWARF cross-check ties gccgo's DWARF (home slots) to the System V entry registers.
 */
export function findFirstStore(code: Buffer, functionVaddr: number, register: StoredRegister): RegisterStore | undefined {
  const all = decodeAll(code, functionVaddr);
  const byIp = new Map(all.map((insn, i) => [insn.ip, i]));
  const found = walk(code, functionVaddr, register, all, byIp);
  if (found === undefined) return undefined;
  // Every branch into (entry, probe] must be one the walk itself took.
  const end = found.spill.probeVaddr;
  for (const insn of all) {
    if (insn.target !== undefined && insn.target > functionVaddr && insn.target <= end && !found.taken.has(insn.ip)) {
      return undefined;
    }
  }
  return found.spill;
}

/** Tracked state of the walk: how far below the entry SP are RSP and RBP now. */
interface Frame {
  spDelta: number;
  rbpDelta: number | undefined;
}

function walk(
  code: Buffer,
  entry: number,
  register: StoredRegister,
  all: readonly Insn[],
  byIp: ReadonlyMap<number, number>,
): { spill: RegisterStore; taken: Set<number> } | undefined {
  const factory = new InstructionInfoFactory();
  const start = 'xmm' in register ? Register.ZMM0 + register.xmm : (FULL_INT_REGISTERS[register.int] as number);
  try {
    // Depth-first over the prologue's forward paths: fall-through first, then the branch target.
    // `holders` maps each full register that still holds the value to how many low bytes of it
    // are the value: -O0 code often copies an argument register to another before storing it.
    const tryFrom = (
      ip: number,
      frame: Frame,
      holders: ReadonlyMap<number, number>,
      taken: Set<number>,
      budget: number,
    ): { spill: RegisterStore; taken: Set<number> } | undefined => {
      let index = byIp.get(ip);
      if (index === undefined) return undefined;
      const state: Frame = { ...frame };
      const held = new Map(holders);
      for (; index < all.length && budget > 0; index++, budget--) {
        const insn = all[index] as Insn;
        if (insn.invalid) return undefined;
        const raw = decodeOne(code, entry, insn);
        try {
          const spill = asStore(raw, held, state);
          if (spill !== undefined) return { spill: { vaddr: insn.ip, probeVaddr: insn.nextIp, entrySpDelta: state.spDelta, ...spill }, taken };
          followCopies(factory, raw, held);
          if (held.size === 0) return undefined;
          if (insn.flow === FlowControl.ConditionalBranch) {
            if (insn.target === undefined || insn.target <= insn.ip) return undefined;
            const fallThrough = tryFrom(insn.nextIp, state, held, taken, budget - 1);
            if (fallThrough !== undefined) return fallThrough;
            return tryFrom(insn.target, state, held, new Set([...taken, insn.ip]), budget - 1);
          }
          if (insn.flow !== FlowControl.Next) return undefined;
          if (!track(raw, state, factory)) return undefined;
        } finally {
          raw.free();
        }
      }
      return undefined;
    };
    const width = 'xmm' in register ? 16 : 8;
    return tryFrom(entry, { spDelta: 0, rbpDelta: undefined }, new Map([[start, width]]), new Set(), MAX_PROLOGUE_INSTRUCTIONS);
  } finally {
    factory.free();
  }
}

/** Register-to-register moves that copy a value (the low bytes of the source). */
const COPIES: ReadonlySet<number> = new Set([Mnemonic.Mov, Mnemonic.Movq, Mnemonic.Movd, Mnemonic.Movaps, Mnemonic.Movapd, Mnemonic.Movdqa, Mnemonic.Movups]);

/**
 * Updates `held` for one instruction: a copy from a holder makes its destination a holder (of
 * at most the destination's width); any other write to a holder removes it.
 */
function followCopies(factory: InstanceType<typeof InstructionInfoFactory>, raw: IcedInstruction, held: Map<number, number>): void {
  let copiedTo: number | undefined;
  if (COPIES.has(raw.mnemonic) && raw.opCount === 2 && raw.op0Kind === OpKind.Register && raw.op1Kind === OpKind.Register) {
    const from = held.get(RegisterExt.fullRegister(raw.op1Register));
    if (from !== undefined) {
      copiedTo = RegisterExt.fullRegister(raw.op0Register);
      const bytes = Math.min(from, RegisterExt.size(raw.op0Register), RegisterExt.size(raw.op1Register));
      held.set(copiedTo, bytes);
    }
  }
  const info = factory.info(raw);
  try {
    for (const used of info.usedRegisters() as Array<{ register: number; access: number; free(): void }>) {
      const write = used.access !== OpAccess.Read && used.access !== OpAccess.CondRead && used.access !== OpAccess.None;
      const full = RegisterExt.fullRegister(used.register);
      used.free();
      if (write && full !== copiedTo) held.delete(full);
    }
  } finally {
    info.free();
  }
}

const STACK_POINTER: ReadonlySet<number> = new Set([Register.RSP, Register.ESP, Register.SP, Register.SPL]);
const FRAME_POINTER: ReadonlySet<number> = new Set([Register.RBP, Register.EBP, Register.BP, Register.BPL]);

/** Re-decodes one instruction for operand details (the linear pass keeps only summaries). */
function decodeOne(code: Buffer, entry: number, insn: Insn): IcedInstruction {
  const start = insn.ip - entry;
  const bytes = code.subarray(start, start + insn.length);
  const decoder = new Decoder(64, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), DecoderOptions.None);
  try {
    decoder.ip = BigInt(insn.ip);
    return decoder.decode();
  } finally {
    decoder.free();
  }
}

/** If `raw` stores a holder of the value to [RSP+d] or [RBP+d] (with RBP known), its entry-relative offset and size. */
function asStore(raw: IcedInstruction, held: ReadonlyMap<number, number>, frame: Frame): { spOffsetAtEntry: number; size: 1 | 2 | 4 | 8 } | undefined {
  if (raw.opCount !== 2 || raw.op0Kind !== OpKind.Memory || raw.op1Kind !== OpKind.Register || raw.memoryIndex !== Register.None) return undefined;
  const holds = held.get(RegisterExt.fullRegister(raw.op1Register));
  if (holds === undefined) return undefined;
  let size: number | undefined;
  if (RegisterExt.isVectorRegister(raw.op1Register)) size = SCALAR_STORES.get(raw.mnemonic);
  else if (raw.mnemonic === Mnemonic.Mov) size = RegisterExt.size(raw.op1Register);
  if (size === undefined) return undefined;
  size = Math.min(size, holds);
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return undefined;
  const displacement = Number(BigInt.asIntN(64, raw.memoryDisplacement));
  if (raw.memoryBase === Register.RSP) return { spOffsetAtEntry: displacement - frame.spDelta, size };
  if (raw.memoryBase === Register.RBP && frame.rbpDelta !== undefined) return { spOffsetAtEntry: displacement - frame.rbpDelta, size };
  return undefined;
}

/** True when `raw` writes any register in `registers` (fully, partly or conditionally). */
function writesAny(factory: InstanceType<typeof InstructionInfoFactory>, raw: IcedInstruction, registers: ReadonlySet<number>): boolean {
  const info = factory.info(raw);
  try {
    for (const used of info.usedRegisters() as Array<{ register: number; access: number; free(): void }>) {
      const write = used.access !== OpAccess.Read && used.access !== OpAccess.CondRead && used.access !== OpAccess.None;
      const hit = write && registers.has(used.register);
      used.free();
      if (hit) return true;
    }
    return false;
  } finally {
    info.free();
  }
}

/**
 * Follows SP and RBP through one non-branching instruction; false when the instruction changes
 * them in a way the walk cannot follow (so the walk must stop).
 */
function track(raw: IcedInstruction, frame: Frame, factory: InstanceType<typeof InstructionInfoFactory>): boolean {
  const op0IsReg = raw.opCount >= 1 && raw.op0Kind === OpKind.Register;
  const dest = op0IsReg ? raw.op0Register : Register.None;
  const imm = (): number | undefined => {
    if (raw.opCount < 2) return undefined;
    const kind = raw.op1Kind;
    if (kind === OpKind.Immediate8to64 || kind === OpKind.Immediate32to64 || kind === OpKind.Immediate8 || kind === OpKind.Immediate32) {
      return Number(BigInt.asIntN(64, raw.immediate(1)));
    }
    return undefined;
  };
  switch (raw.mnemonic) {
    case Mnemonic.Push:
      frame.spDelta += 8;
      return true;
    case Mnemonic.Pop:
      if (dest === Register.RBP) frame.rbpDelta = undefined;
      frame.spDelta -= 8;
      return true;
    case Mnemonic.Sub:
    case Mnemonic.Add: {
      if (dest !== Register.RSP && dest !== Register.RBP) return true;
      const value = imm();
      if (value === undefined) return false;
      const delta = raw.mnemonic === Mnemonic.Sub ? value : -value;
      if (dest === Register.RSP) frame.spDelta += delta;
      else if (frame.rbpDelta !== undefined) frame.rbpDelta += delta;
      return true;
    }
    case Mnemonic.Lea: {
      if (dest !== Register.RSP && dest !== Register.RBP) return true;
      if (raw.memoryIndex !== Register.None || raw.memoryBase !== Register.RSP) {
        if (dest === Register.RSP) return false;
        frame.rbpDelta = undefined;
        return true;
      }
      const below = frame.spDelta - Number(BigInt.asIntN(64, raw.memoryDisplacement));
      if (dest === Register.RSP) frame.spDelta = below;
      else frame.rbpDelta = below;
      return true;
    }
    case Mnemonic.Mov: {
      if (dest === Register.RBP) {
        frame.rbpDelta = raw.op1Kind === OpKind.Register && raw.op1Register === Register.RSP ? frame.spDelta : undefined;
        return true;
      }
      return dest !== Register.RSP;
    }
    default:
      // Anything else that writes RSP (e.g. AND RSP, -16) cannot be followed; one that writes
      // RBP leaves it unknown. Reads (CMP RSP, [R14+16]: the stack check) are harmless.
      if (writesAny(factory, raw, STACK_POINTER)) return false;
      if (writesAny(factory, raw, FRAME_POINTER)) frame.rbpDelta = undefined;
      return true;
  }
}
