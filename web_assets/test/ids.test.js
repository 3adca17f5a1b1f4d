import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../src/ids.js';

const ID = /^[A-Za-z0-9_-]{16}$/;
/** Ids across two draws of the random part (one per 1,024 ids). */
const take = (n = 9000) => Array.from({ length: n }, newId);

test('ids: 16 base64url characters, none repeated, across draws of their random part', () => {
  const ids = take();
  assert.ok(ids.every((id) => ID.test(id)), ids.find((id) => !ID.test(id)));
  assert.equal(new Set(ids).size, ids.length);
  // The random part is drawn again every 1,024 ids: nine runs here, each with its own 13 characters.
  const runs = new Set(ids.map((id) => id.slice(0, 13)));
  assert.ok(runs.size >= 8 && runs.size <= 10, `${runs.size} random parts`);
});

test('ids: a getRandomValues that gives no randomness is refused, naming it', (t) => {
  const original = crypto.getRandomValues;
  t.after(() => (crypto.getRandomValues = original));
  for (const broken of [(/** @type {any} */ a) => a, (/** @type {any} */ a) => a.fill(7), (/** @type {any} */ a) => a.map((_, i) => i % 16)]) {
    crypto.getRandomValues = broken;
    // Within 1,024 ids, the random part is drawn again and refused.
    assert.throws(() => take(1025), { message: /crypto.getRandomValues\(\) returns no random bytes on this page, so event ids would repeat/ });
    // And again on the next call: no id is made from it.
    assert.throws(() => newId(), /ids would repeat/);
  }
  crypto.getRandomValues = original;
  assert.match(newId(), ID);
});
