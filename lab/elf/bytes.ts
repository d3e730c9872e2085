/**
 * Bounds-checked little-endian reads. Every reader in lab/elf goes through these so that a
 * hostile offset or count in a malformed binary becomes a typed error instead of a RangeError,
 * a huge allocation or a silent wrong value.
 */
import { elfError, type ElfErrorCodeValue } from './errors.ts';

/** Largest value a JS number holds exactly; larger 64-bit fields are treated as malformed. */
const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);

/** A view over a buffer that throws `code` (with `what` in the message) on any out-of-range read. */
export class ByteReader {
  /** The current read position. */
  pos: number;

  constructor(
    readonly data: Buffer,
    readonly code: ElfErrorCodeValue,
    readonly what: string,
    start = 0,
  ) {
    this.pos = start;
  }

  /** Throws unless `length` bytes are readable at `at`. */
  need(at: number, length: number): void {
    if (!Number.isSafeInteger(at) || !Number.isSafeInteger(length) || at < 0 || length < 0 || at + length > this.data.length) {
      throw elfError(
        this.code,
        `${this.what}: read of ${length} bytes at offset ${at} is outside its ${this.data.length} bytes`,
        'The binary is damaged or truncated; rebuild it or copy it again.',
      );
    }
  }

  u8(at = this.advance(1)): number {
    this.need(at, 1);
    return this.data[at]!;
  }
  u16(at = this.advance(2)): number {
    this.need(at, 2);
    return this.data.readUInt16LE(at);
  }
  u32(at = this.advance(4)): number {
    this.need(at, 4);
    return this.data.readUInt32LE(at);
  }
  i32(at = this.advance(4)): number {
    this.need(at, 4);
    return this.data.readInt32LE(at);
  }
  /** A 64-bit unsigned value; above 2^53 it is reported as malformed rather than rounded. */
  u64(at = this.advance(8)): number {
    this.need(at, 8);
    const value = this.data.readBigUInt64LE(at);
    if (value > maxSafe) {
      throw elfError(this.code, `${this.what}: 64-bit value ${value} at offset ${at} is out of range`, 'The binary is damaged; rebuild it.');
    }
    return Number(value);
  }
  /** A 64-bit value that may legitimately be huge (e.g. -1 sentinels): returns it as bigint. */
  u64big(at = this.advance(8)): bigint {
    this.need(at, 8);
    return this.data.readBigUInt64LE(at);
  }
  i64(at = this.advance(8)): number {
    this.need(at, 8);
    return Number(this.data.readBigInt64LE(at));
  }
  /** A pointer-sized unsigned value. */
  uptr(size: number, at?: number): number {
    return size === 8 ? this.u64(at) : this.u32(at);
  }
  bytes(length: number, at = this.advance(length)): Buffer {
    this.need(at, length);
    return this.data.subarray(at, at + length);
  }
  /** A NUL-terminated string starting at `at` (the end of the data also terminates it). */
  cstring(at: number, maxLength = 1 << 20): string {
    this.need(at, 0);
    // Search only as far as the longest accepted string: a NUL-less region must not cost a scan of the file.
    const limit = Math.min(this.data.length, at + maxLength);
    const nul = this.data.subarray(at, limit).indexOf(0);
    return this.data.toString('utf8', at, nul < 0 ? limit : at + nul);
  }
  /** The NUL-terminated string at the position; moves past its terminator. */
  nextCstring(maxLength = 1 << 20): string {
    this.need(this.pos, 1);
    let end = this.data.indexOf(0, this.pos);
    if (end < 0) this.fail(`unterminated string at ${this.pos}`);
    if (end - this.pos > maxLength) this.fail(`string at ${this.pos} longer than ${maxLength} bytes`);
    const s = this.data.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  /** Unsigned LEB128, limited to values a JS number holds exactly. */
  uleb(): number {
    let result = 0;
    let factor = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.u8();
      result += (b & 0x7f) * factor;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) this.fail('LEB128 value too large');
        return result;
      }
      factor *= 128;
    }
    return this.fail('LEB128 value longer than 10 bytes');
  }
  /** Unsigned LEB128 of any length, rounded to a double (for constants whose exact value is not needed). */
  ulebLoose(): number {
    let result = 0;
    let factor = 1;
    for (let i = 0; i < 32; i++) {
      const b = this.u8();
      result += (b & 0x7f) * factor;
      if ((b & 0x80) === 0) return result;
      factor *= 128;
    }
    return this.fail('LEB128 value longer than 32 bytes');
  }
  /** Signed LEB128 of any length, rounded to a double. */
  slebLoose(): number {
    let result = 0;
    let factor = 1;
    for (let i = 0; i < 32; i++) {
      const b = this.u8();
      result += (b & 0x7f) * factor;
      factor *= 128;
      if ((b & 0x80) === 0) return b & 0x40 ? result - factor : result;
    }
    return this.fail('LEB128 value longer than 32 bytes');
  }
  /** Signed LEB128. */
  sleb(): number {
    let result = 0;
    let factor = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.u8();
      result += (b & 0x7f) * factor;
      factor *= 128;
      if ((b & 0x80) === 0) {
        if (b & 0x40) result -= factor;
        if (!Number.isSafeInteger(result)) this.fail('LEB128 value too large');
        return result;
      }
    }
    return this.fail('LEB128 value longer than 10 bytes');
  }
  /** True when the position is at or past the end. */
  get done(): boolean {
    return this.pos >= this.data.length;
  }
  /** Throws this reader's error code with a message. */
  fail(message: string): never {
    throw elfError(this.code, `${this.what}: ${message}`, 'The binary is damaged; rebuild it.');
  }
  private advance(length: number): number {
    const at = this.pos;
    this.pos += length;
    return at;
  }
}
