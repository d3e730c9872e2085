import { describe, expect, it } from 'vitest';
import { classifyCheck, valueOutcome, type ClassifiedValue } from './classify.ts';
import { compareCall, compareValue, goQuote, goUnquote } from './compare.ts';
import type { GoValue } from '../probe/values.ts';

const int = (value: bigint): GoValue => ({ kind: 'int', value });
const unreadable = (reason: string): GoValue => ({ kind: 'unreadable', reason });
const value = (name: string, printed: string, traced: GoValue | undefined, undescribed?: string): ClassifiedValue => ({
  comparison: compareValue('F', 'arg', name, printed, traced),
  ...(undescribed === undefined ? {} : { undescribed }),
});

describe('compareValue', () => {
  it('matches exact renderings and reports differences', () => {
    expect(compareValue('F', 'arg', 'a', '-100', int(-100n))).toMatchObject({ ok: true, traced: '-100', unreadable: [] });
    expect(compareValue('F', 'arg', 'a', '-100', int(-99n))).toMatchObject({ ok: false, traced: '-99' });
  });

  it('lets an unreadable part match anything, keeping its reason', () => {
    const struct: GoValue = { kind: 'struct', fields: [{ name: 'X', value: unreadable('in X0, not readable from saved registers') }, { name: 'Y', value: int(2n) }] };
    expect(compareValue('F', 'arg', 'v', '{X:1.5,Y:2}', struct)).toMatchObject({ ok: true, traced: '{X:<?>,Y:2}', unreadable: ['in X0, not readable from saved registers'] });
    expect(compareValue('F', 'arg', 'v', '{X:1.5,Y:3}', struct).ok).toBe(false);
    expect(compareValue('F', 'arg', 'x', '2.5', unreadable('in X1')).whollyUnreadable).toBe(true);
  });

  it('checks a named interface type and leaves its value open', () => {
    const named: GoValue = { kind: 'interface', typeWord: 0x4000n, dataWord: 0x5000n, typeName: 'main.Circle' };
    expect(compareValue('F', 'arg', 's', 'main.Circle({R:2.5})', named)).toMatchObject({ ok: true, traced: 'main.Circle(<?>)' });
    expect(compareValue('F', 'arg', 's', 'main.Square({R:2.5})', named).ok).toBe(false);
  });

  it('marks a value the tracer did not produce as missing', () => {
    expect(compareValue('F', 'result', 'r0', '5', undefined)).toMatchObject({ ok: false, missing: true, traced: '(missing)' });
  });

  it('compares a whole call in printed order', () => {
    const out = compareCall(
      { func: 'Int8s', args: { a: '-100', b: '200' }, results: { r0: '-101' } },
      { args: [{ name: 'a', type: 'int8', value: int(-100n) }, { name: 'b', type: 'uint8', value: int(200n) }], results: [{ name: 'r0', type: 'int8', value: int(-101n) }] },
    );
    expect(out.map((c) => [c.role, c.name, c.ok])).toEqual([
      ['arg', 'a', true],
      ['arg', 'b', true],
      ['result', 'r0', true],
    ]);
  });
});

describe('goQuote / goUnquote', () => {
  it('round-trip the escapes the zoo prints', () => {
    for (const text of ['hello, zoo', 'tab\there "quoted" é', 'a\\b\nc', '\x01']) expect(goUnquote(goQuote(text))).toBe(text);
    expect(goUnquote('"\\x41\\u00e9"')).toBe('Aé');
    expect(goUnquote('plain')).toBeUndefined();
    expect(goUnquote('"bad"quote"')).toBeUndefined();
  });
});

describe('classifyCheck', () => {
  it('passes when every value equals the printout', () => {
    expect(classifyCheck([value('a', '1', int(1n)), value('b', '2', int(2n))], 'arguments')).toEqual({ status: 'pass' });
  });

  it('passes with notes when some values or parts are unreadable', () => {
    const result = classifyCheck([value('a', '1', int(1n)), value('x', '2.5', unreadable('in X0, not readable from saved registers'))], 'arguments');
    expect(result).toEqual({ status: 'pass', notes: ['x: in X0, not readable from saved registers'] });
  });

  it('is unsupported, with every reason, when nothing could be read', () => {
    const result = classifyCheck(
      [value('x', '2.5', unreadable('in X0, not readable from saved registers')), value('r0', '3', undefined, 'the DWARF describes no results of main.F')],
      'results',
    );
    expect(result).toEqual({ status: 'unsupported', reason: 'x: in X0, not readable from saved registers; r0: the DWARF describes no results of main.F' });
  });

  it('fails on a wrong value, naming expected and seen, even next to unreadable ones', () => {
    const result = classifyCheck([value('a', '47', int(140707223235472n)), value('x', '2.5', unreadable('in X0'))], 'arguments');
    expect(result).toEqual({ status: 'fail', reason: 'a differs from the printout', expected: 'a=47', seen: 'a=140707223235472' });
  });

  it('fails on a value that is missing without a known reason', () => {
    const result = classifyCheck([value('r0', '5', undefined)], 'results');
    expect(result).toMatchObject({ status: 'fail', reason: 'r0 not traced', expected: 'r0=5', seen: 'r0=(missing)' });
    expect(valueOutcome(value('r0', '5', undefined))).toBe('wrong');
    expect(valueOutcome(value('r0', '5', undefined, 'no DWARF'))).toBe('undescribed');
  });

  it('passes vacuously, saying so, when there is nothing to compare', () => {
    expect(classifyCheck([], 'arguments')).toEqual({ status: 'pass', notes: ['no arguments to compare'] });
  });
});
