import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../src/ids.js';

const ID = /^[A-Za-z0-9_-]{16}$/;
/** Ids until the pool has been made again twice (256 per pool). */
const take = (n = 600) => Array.from({ length: n }, newId);

test('ids: 16 base64url characters, none repeated, across pool refills', () => {
  const ids = take();
  assert.ok(ids.every((id) => ID.test(id)), ids.find((id) => !ID.test(id)));
  assert.equal(new Set(ids).size, ids.length);
});

test('ids: made with Uint8Array.prototype.toBase64 where the browser has it, with btoa where not', (t) => {
  const proto = /** @type {any} */ (Uint8Array.prototype);
  const had = Object.hasOwn(proto, 'toBase64');
  const original = proto.toBase64;
  t.after(() => (had ? (proto.toBase64 = original) : delete proto.toBase64));
  let calls = 0;
  proto.toBase64 = function (/** @type {any} */ options) {
    calls++;
    assert.deepEqual(options, { alphabet: 'base64url' });
    return Buffer.from(this).toString('base64url');
  };
  const ids = take();
  assert.ok(calls >= 2);
  assert.ok(ids.every((id) => ID.test(id)));
  assert.equal(new Set(ids).size, ids.length);
  // A page's broken replacement (wrong length, or one that ignores the alphabet) is not trusted: btoa makes the
  // pool instead.
  for (const broken of [() => 'AAAA', function () { return Buffer.from(this).toString('base64').replace(/[^+/]/, '+'); }]) {
    proto.toBase64 = broken;
    const fallback = take();
    assert.ok(fallback.every((id) => ID.test(id)), fallback.find((id) => !ID.test(id)));
    assert.equal(new Set(fallback).size, fallback.length);
  }
});

test('ids: a getRandomValues that gives no randomness is refused, naming it', (t) => {
  const original = crypto.getRandomValues;
  t.after(() => (crypto.getRandomValues = original));
  take(256); // whatever is left in the pool
  crypto.getRandomValues = (/** @type {any} */ a) => a;
  assert.throws(() => take(300), { message: /crypto.getRandomValues\(\) returns no random bytes on this page, so event ids would repeat/ });
});
