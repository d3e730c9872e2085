import { describe, expect, it } from 'vitest';
import { goTypes as t, sliceOf } from '../abi/construct.ts';
import { deriveRewriteValue, intRange, rewriteCandidates, sameLengthVariant } from './rewrite.ts';

describe('deriveRewriteValue', () => {
  it('moves integers by one within their range, derived from the printed value', () => {
    expect(deriveRewriteValue(t.int8, '-100')).toEqual({ value: -99n, printed: '-99' });
    expect(deriveRewriteValue(t.int8, '127')).toEqual({ value: 126n, printed: '126' });
    expect(deriveRewriteValue(t.uint8, '255')).toEqual({ value: 254n, printed: '254' });
    expect(deriveRewriteValue(t.uint64, '18000000000000000000')).toEqual({ value: 18000000000000000001n, printed: '18000000000000000001' });
    expect(deriveRewriteValue(t.int64, '9223372036854775807')).toEqual({ value: 9223372036854775806n, printed: '9223372036854775806' });
    expect(deriveRewriteValue(t.int, 'x')).toHaveProperty('reason');
  });

  it('negates bools', () => {
    expect(deriveRewriteValue(t.bool, 'true')).toEqual({ value: false, printed: 'false' });
    expect(deriveRewriteValue(t.bool, 'false')).toEqual({ value: true, printed: 'true' });
  });

  it('changes strings without changing their UTF-8 length', () => {
    const derived = deriveRewriteValue(t.string, '"tab\\there \\"quoted\\" é"');
    expect(derived).toEqual({ value: 'TAB\tHERE "QUOTED" é', printed: '"TAB\\tHERE \\"QUOTED\\" é"' });
    if (!('value' in derived) || typeof derived.value !== 'string') throw new Error('no string');
    expect(Buffer.byteLength(derived.value)).toBe(Buffer.byteLength('tab\there "quoted" é'));
    expect(deriveRewriteValue(t.string, '""')).toHaveProperty('reason');
  });

  it('refuses kinds the probe cannot write', () => {
    expect(deriveRewriteValue(t.float64, '2.5')).toEqual({ reason: 'float64 cannot be rewritten (only integers, bools and strings)' });
  });
});

describe('sameLengthVariant', () => {
  it('swaps case, else counts digits up, else changes one ASCII byte', () => {
    expect(sameLengthVariant('acct')).toBe('ACCT');
    expect(sameLengthVariant('2019')).toBe('3120');
    expect(sameLengthVariant('é!')).toBe('éx');
    expect(sameLengthVariant('éé')).toBeUndefined();
    expect(sameLengthVariant('')).toBeUndefined();
  });
});

describe('intRange', () => {
  it('covers signed and unsigned widths', () => {
    expect(intRange(t.int16)).toEqual({ min: -32768n, max: 32767n });
    expect(intRange(t.uint32)).toEqual({ min: 0n, max: 4294967295n });
  });
});

describe('rewriteCandidates', () => {
  it('lists rewritable parameters in order, skipping other kinds', () => {
    const { candidates, reasons } = rewriteCandidates(
      [
        { name: 'xs', type: sliceOf(t.int64) },
        { name: 'a', type: t.int },
        { name: 'ok', type: t.bool },
      ],
      { xs: '[1](len=1,cap=1)', a: '47', ok: 'true' },
    );
    expect(candidates).toEqual([
      { param: 'a', value: 48n, printed: '48', original: '47' },
      { param: 'ok', value: false, printed: 'false', original: 'true' },
    ]);
    expect(reasons).toEqual([]);
  });

  it('says why there is nothing to rewrite', () => {
    expect(rewriteCandidates([{ name: 'x', type: t.float64 }], { x: '1' }).reasons).toEqual(['no int, bool or string parameter to rewrite']);
    expect(rewriteCandidates([], {}).reasons).toEqual(['no parameters to rewrite']);
    expect(rewriteCandidates([{ name: 's', type: t.string }], { s: '""' }).reasons[0]).toMatch(/^s: "" has no same-length variant/);
  });
});
