import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSubject, checkTopic, serializeData, utf8Length } from '../src/validate.js';

test('topics: lower case, starts with a letter, at most 64 characters', () => {
  assert.equal(checkTopic('song_player'), 'song_player');
  assert.equal(checkTopic('a'.repeat(64)), 'a'.repeat(64));
  assert.throws(() => checkTopic('a'.repeat(65)), { name: 'TypeError', message: /must be a string matching/ });
  assert.throws(() => checkTopic('Song'), { message: 'putonly: topic "Song" (string) must be a string matching /^[a-z][a-z0-9_.-]{0,63}$/' });
  assert.throws(() => checkTopic('1song'), /must be a string matching/);
  assert.throws(() => checkTopic('song#1'), /must be a string matching/);
  assert.throws(() => checkTopic(''), /must be a string matching/);
  assert.throws(() => checkTopic(42), { name: 'TypeError', message: /^putonly: topic "42" \(number\) must be a string/ });
});

test('subjects: optional; strings of 1 to 256 characters or safe integers', () => {
  assert.equal(checkSubject(undefined), '');
  assert.equal(checkSubject(123), '123');
  assert.equal(checkSubject('song-123'), 'song-123');
  assert.throws(() => checkSubject(''), { name: 'RangeError' });
  assert.throws(() => checkSubject('x'.repeat(257)), { name: 'RangeError', message: /1 to 256 characters, got 257/ });
  assert.throws(() => checkSubject(1.5), { name: 'TypeError', message: /got number/ });
  assert.throws(() => checkSubject({}), { name: 'TypeError', message: /got object/ });
  assert.throws(() => checkSubject('a\nb'), { name: 'TypeError', message: /control characters/ });
});

test('data: JSON values are serialized once, with their UTF-8 size', () => {
  assert.deepEqual(serializeData({ a: [1, 'é', null, true] }), { json: '{"a":[1,"é",null,true]}', bytes: 24 });
  assert.deepEqual(serializeData(null), { json: 'null', bytes: 4 });
  assert.deepEqual(serializeData(Object.create(null)), { json: '{}', bytes: 2 });
});

test('data: what JSON would change or lose is refused, naming where it is', () => {
  const cycle = { a: {} };
  cycle.a.back = cycle;
  const cases = [
    [undefined, TypeError, /data is undefined/],
    [{ f() {} }, TypeError, /data\.f is a function/],
    [{ n: 1n }, TypeError, /data\.n is a BigInt/],
    [{ x: [1, NaN] }, TypeError, /data\.x\[1\] is NaN; JSON cannot represent it/],
    [{ x: Infinity }, TypeError, /data\.x is Infinity/],
    [{ u: undefined }, TypeError, /data\.u is undefined/],
    [cycle, TypeError, /data\.a\.back refers back to itself/],
    [{ d: new Date(0) }, TypeError, /data\.d is a Date, not a plain object/],
    [new Map(), TypeError, /data is a Map/],
    [{ s: Symbol('x') }, TypeError, /data\.s is a symbol/],
  ];
  for (const [data, type, message] of cases) assert.throws(() => serializeData(data), { name: type.name, message });
});

test('data: over the byte limit is a RangeError with both numbers', () => {
  assert.throws(() => serializeData('é'.repeat(100), 100), { name: 'RangeError', message: 'putonly: data is 202 bytes as JSON; the limit is 100' });
  assert.equal(serializeData('x'.repeat(98), 100).bytes, 100);
});

test('shared references that are not cycles are fine', () => {
  const shared = { a: 1 };
  assert.equal(serializeData({ x: shared, y: shared }).json, '{"x":{"a":1},"y":{"a":1}}');
});

test('utf8Length counts like DynamoDB does', () => {
  assert.equal(utf8Length('abc'), 3);
  assert.equal(utf8Length('é'), 2);
  assert.equal(utf8Length('€'), 3);
  assert.equal(utf8Length('😀'), 4);
});
