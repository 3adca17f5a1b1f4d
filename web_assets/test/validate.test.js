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
    [{ toJSON() {} }, TypeError, /data has its own toJSON/],
    [{ n: 1n }, TypeError, /data\.n is a BigInt/],
    [{ x: [1, NaN] }, TypeError, /data\.x\[1\] is NaN; JSON cannot represent it/],
    [{ x: Infinity }, TypeError, /data\.x is Infinity/],
    [{ u: undefined }, TypeError, /data\.u is undefined/],
    [cycle, TypeError, /data\.a\.back refers back to itself/],
    [{ d: new Date(0) }, TypeError, /data\.d is an instance of Date, not a plain object/],
    [new Map(), TypeError, /data is an instance of Map/],
    [{ s: Symbol('x') }, TypeError, /data\.s is a symbol/],
  ];
  for (const [data, type, message] of cases) assert.throws(() => serializeData(data), { name: type.name, message });
});

test('data: over the byte limit is a RangeError with both numbers', () => {
  assert.throws(() => serializeData('é'.repeat(100), 100), { name: 'RangeError', message: 'putonly: data is 202 bytes as JSON; the limit is 100' });
  assert.equal(serializeData('x'.repeat(98), 100).bytes, 100);
});

test('data: written byte for byte as a clean JSON.stringify writes it (generated values), and its UTF-8 bytes counted', () => {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const chars = ['a', 'é', '€', '😀', '"', '\\', '\n', '\t', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udfff', '\ud83d', '<', '/'];
  const text = () => Array.from({ length: Math.floor(random() * 8) }, () => chars[Math.floor(random() * chars.length)]).join('');
  const value = (depth) => {
    const r = random();
    if (depth > 3 || r < 0.3) return [text(), random() * 1e6 - 5e5, Math.floor(random() * 1e15), -0, 1e21, 5e-7, true, false, null][Math.floor(random() * 9)];
    if (r < 0.6) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [text(), value(depth + 1)]));
  };
  for (let i = 0; i < 500; i++) {
    const data = value(0);
    const { json, bytes } = serializeData(data, 1e9);
    assert.equal(json, JSON.stringify(data));
    assert.equal(bytes, new TextEncoder().encode(json).length, json); // counted as written, keys cached or not
  }
});

test("data: each value is read once; the page's toJSON and JSON.stringify are not used", () => {
  let reads = 0;
  assert.equal(serializeData({ get x() { return reads++ ? undefined : 1; } }).json, '{"x":1}');
  assert.equal(reads, 1);
  let gets = 0;
  const proxy = new Proxy({ a: 1 }, { get: (t, k) => (gets++ ? 'second' : t[k]) });
  assert.equal(serializeData({ p: proxy }).json, '{"p":{"a":1}}');
  const stringify = JSON.stringify;
  Object.defineProperty(Object.prototype, 'toJSON', { value: () => 'polluted', configurable: true });
  Object.defineProperty(Array.prototype, 'toJSON', { value: () => 'polluted', configurable: true });
  JSON.stringify = (v, r, s) => stringify(v, r, s ?? 2);
  try {
    assert.equal(serializeData({ list: [0, 'x'], n: { m: 1 } }).json, '{"list":[0,"x"],"n":{"m":1}}');
  } finally {
    JSON.stringify = stringify;
    delete Object.prototype.toJSON;
    delete Array.prototype.toJSON;
  }
  assert.throws(() => serializeData(Object.defineProperty({ a: 1 }, 'toJSON', { value: () => ({ n: NaN }), enumerable: true })), { name: 'TypeError', message: 'putonly: data has its own toJSON(); pass the plain data it stands for' });
  assert.throws(() => serializeData({ a: [Object.defineProperty({}, 'toJSON', { value: () => Infinity })] }), { message: /data\.a\[0\] has its own toJSON/ });
});

test('data: a getter or trap that throws becomes a TypeError naming the path; holes are undefined', () => {
  assert.throws(() => serializeData({ a: { get b() { throw new Error('boom'); } } }), { name: 'TypeError', message: 'putonly: data.a.b cannot be read: boom' });
  assert.throws(() => serializeData(new Proxy({}, { ownKeys() { throw new Error('no keys'); } })), { name: 'TypeError', message: 'putonly: data cannot be read: no keys' });
  assert.throws(() => serializeData({ a: [1, , 3] }), { name: 'TypeError', message: /data\.a\[1\] is undefined/ });
  let nested = {};
  const root = nested;
  for (let i = 0; i < 33; i++) nested = nested.x = {};
  assert.throws(() => serializeData(root), { name: 'RangeError', message: /nested deeper than 32 levels/ });
});

test('subjects with lone surrogates are refused (they go into a key)', () => {
  assert.throws(() => checkSubject('x\ud800'), { name: 'TypeError', message: /lone surrogates/ });
  assert.throws(() => checkSubject('\udfffx'), { name: 'TypeError', message: /lone surrogates/ });
  assert.equal(checkSubject('song 😀'), 'song 😀');
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

test('subjects: lone surrogates refused also where String.prototype.isWellFormed is missing (before 2023)', (t) => {
  const original = Object.getOwnPropertyDescriptor(String.prototype, 'isWellFormed');
  t.after(() => original && Object.defineProperty(String.prototype, 'isWellFormed', original));
  delete String.prototype.isWellFormed;
  assert.throws(() => checkSubject('song\ud800'), /lone surrogates/);
  assert.throws(() => checkSubject('\udfffsong'), /lone surrogates/);
  assert.equal(checkSubject('song-😀-é'), 'song-😀-é');
});

test("data: a page's JSON.stringify that writes strings otherwise is not used to escape them", async (t) => {
  const original = JSON.stringify;
  t.after(() => (JSON.stringify = original));
  // Writes control characters raw: a tab would break the loader's tab-separated batch.
  JSON.stringify = (value, ...rest) => (typeof value === 'string' ? `"${value}"` : original(value, ...rest));
  const fresh = await import(`../src/validate.js?broken-stringify=${Date.now()}`);
  JSON.stringify = original;
  const data = { a: 'tab\there "quoted" \\ é 😀 \ud800 \n', b: ['\u0001'] };
  const { json, bytes } = fresh.serializeData(data, 1e6);
  assert.ok(!/[\0-\x1f]/.test(json), json);
  assert.deepEqual(JSON.parse(json), data); // the same JSON value, in other bytes
  assert.equal(bytes, new TextEncoder().encode(json).length);
});
