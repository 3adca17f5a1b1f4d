import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../src/ids.js';

const ID = /^[A-Za-z0-9_-]{16}$/;
/** Ids across two draws of the random part (one per 4,096 ids). */
const take = (n = 9000) => Array.from({ length: n }, newId);

test('ids: 16 base64url characters, none repeated, across draws of their random part', () => {
  const ids = take();
  assert.ok(ids.every((id) => ID.test(id)), ids.find((id) => !ID.test(id)));
  assert.equal(new Set(ids).size, ids.length);
  // The random part is drawn again every 4,096 ids: three runs here, each with its own 14 characters.
  const runs = new Set(ids.map((id) => id.slice(0, 14)));
  assert.ok(runs.size >= 2 && runs.size <= 4, `${runs.size} random parts`);
});

test('ids: a getRandomValues that gives no randomness is refused, naming it', (t) => {
  const original = crypto.getRandomValues;
  t.after(() => (crypto.getRandomValues = original));
  for (const broken of [(/** @type {any} */ a) => a, (/** @type {any} */ a) => a.fill(7), (/** @type {any} */ a) => a.map((_, i) => i % 16)]) {
    crypto.getRandomValues = broken;
    // Within 4,096 ids, the random part is drawn again and refused.
    assert.throws(() => take(4097), { message: /crypto.getRandomValues\(\) returns no random bytes on this page, so event ids would repeat/ });
    // And again on the next call: no id is made from it.
    assert.throws(() => newId(), /ids would repeat/);
  }
  crypto.getRandomValues = original;
  assert.match(newId(), ID);
});

test('ids: a page that replaced btoa or Number.prototype.toString still gets unique, well-formed ids', (t) => {
  const { btoa } = globalThis;
  const { toString } = Number.prototype;
  t.after(() => ((globalThis.btoa = btoa), (Number.prototype.toString = toString)));
  globalThis.btoa = () => 'AAAA';
  Number.prototype.toString = () => '';
  const ids = take();
  assert.ok(ids.every((id) => ID.test(id)), ids.find((id) => !ID.test(id)));
  assert.equal(new Set(ids).size, ids.length);
});
