import { describe, expect, it } from 'vitest';
import { formatFloat, formatValue } from './values.ts';

describe('formatFloat matches strconv.FormatFloat(v, g, -1, bits)', () => {
  it.each([
    [66.88, 32, '66.88'],
    [Math.fround(66.88), 32, '66.88'],
    [0.1, 64, '0.1'],
    [Math.fround(0.1), 32, '0.1'],
    [Math.fround(0.1), 64, '0.10000000149011612'],
    [1e6, 64, '1e+06'],
    [123456, 64, '123456'],
    [1234567, 64, '1.234567e+06'],
    [0.0001, 64, '0.0001'],
    [0.00001, 64, '1e-05'],
    [-2.5, 64, '-2.5'],
    [1e21, 64, '1e+21'],
    [-0, 64, '-0'],
    [Number.POSITIVE_INFINITY, 64, '+Inf'],
  ] as const)('%d as float%d is %s', (value, bits, text) => {
    expect(formatFloat(value, bits)).toBe(text);
  });
});

describe('formatValue', () => {
  it('renders composites the way the zoo prints them', () => {
    expect(
      formatValue({
        kind: 'struct',
        fields: [
          { name: 'X', value: { kind: 'int', value: 3n } },
          { name: 'Y', value: { kind: 'int', value: -4n } },
        ],
      }),
    ).toBe('{X:3,Y:-4}');
    expect(
      formatValue({
        kind: 'slice',
        address: 0xc000010000n,
        length: 2,
        capacity: 4,
        elements: [
          { kind: 'int', value: 1n },
          { kind: 'int', value: 2n },
        ],
        truncated: false,
      }),
    ).toBe('[1,2](len=2,cap=4)');
    expect(formatValue({ kind: 'string', value: 'hi "there"', length: 10, truncated: false })).toBe('"hi \\"there\\""');
    expect(formatValue({ kind: 'unreadable', reason: 'in X0' })).toBe('<unreadable: in X0>');
  });
});
