import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPacker, indexShard, itemSize, numberSize, overflow, seal, split, toItem, writeUnits } from '../src/envelope.js';

const limits = { envelopeMaxBytes: 16384, envelopeMaxEvents: 500, maxDelaySeconds: 30, retentionDays: 0 };
// The 2015 post's play event: about 150 bytes of data.
const play = (i, ts = 1_700_000_000_000 + i * 1000) => {
  const json = JSON.stringify({ id: 123, user_id: '46', ip: '127.0.0.1', session_id: '12929219212', position: i, duration: 215, volume: 80, src: 'player' });
  return { id: `ev${String(i).padStart(14, '0')}`, ts, topic: 'song_player', subject: 'song-123', json, bytes: json.length };
};

test('an envelope says topic, subject and times once, and each event as [id, dt, data]', () => {
  const envelope = seal([play(1), play(0)], limits, 'ENV0000000000001');
  assert.equal(envelope.first, 1_700_000_000_000);
  assert.equal(envelope.last, 1_700_000_001_000);
  assert.equal(envelope.sk, '2023-11-14T22:13:20.000Z#ENV0000000000001');
  assert.deepEqual(envelope.ids, ['ev00000000000000', 'ev00000000000001']);
  const events = JSON.parse(envelope.events);
  assert.deepEqual(events.map(([id, dt]) => [id, dt]), [['ev00000000000000', 0], ['ev00000000000001', 1000]]);
  assert.equal(events[1][2].position, 1);
  assert.equal(envelope.expiresAt, 0);
});

test("an envelope's size counts an identity id of its region's length", () => {
  // A UUID after "<region>:": "us-east-1:" is 10 characters, "ap-southeast-2:" 15. Sized as us-east-1, an
  // envelope in ap-southeast-2 was 5 bytes short, and could cross into one more write unit than planned.
  for (const region of ['us-east-1', 'ap-southeast-2', 'us-gov-west-1']) {
    const envelope = seal([play(0)], { ...limits, region }, 'ENV0000000000001');
    assert.equal(envelope.bytes, itemSize(toItem(envelope, `${region}:${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`)), region);
  }
});

// Its attribute names are checked against the one source, cdk_app/envelope.py, by tests/unit/test_envelope.py.
test('the item carries the identity, the index keys and the expiry', () => {
  const item = toItem(seal([play(0)], { ...limits, retentionDays: 30 }), 'us-east-1:abc');
  assert.equal(item.pk.S, 'us-east-1:abc');
  assert.equal(item.gsi1pk.S, 'song_player#song-123#0'); // one shard unless config.json says more
  assert.equal(item.gsi1sk.S, item.sk.S);
  assert.equal(item.expires_at.N, String(1_700_000_000 + 30 * 86400));
  assert.ok(!('ReturnValues' in item));
  const noSubject = toItem(seal([{ ...play(0), subject: '' }], limits), 'x');
  assert.ok(!('subject' in noSubject) && !('expires_at' in noSubject));
  assert.equal(noSubject.gsi1pk.S, 'song_player##0');
});

test('the index key of one subject, and of subject-less envelopes, is spread over the visitors\' shards', () => {
  const visitors = Array.from({ length: 8 }, (_, n) => `us-east-1:6c0f${n}a3e-0000-4000-8000-00000000000${n}`);
  for (const subject of ['song-123', '']) {
    const envelope = seal([{ ...play(0), subject }], limits);
    const keys = visitors.map((id) => toItem(envelope, id, 8).gsi1pk.S);
    assert.ok(new Set(keys).size > 1, `eight visitors share one index key: ${keys}`);
    for (const [n, key] of keys.entries()) {
      assert.equal(key, `song_player#${subject}#${indexShard(visitors[n], 8)}`);
      assert.equal(toItem(envelope, visitors[n], 8).gsi1pk.S, key, 'a visitor keeps its shard');
    }
  }
  const shards = new Set(Array.from({ length: 1000 }, (_, n) => indexShard(`eu-west-1:${n}`, 32)));
  assert.equal(shards.size, 32);
  assert.ok([...shards].every((s) => Number.isInteger(s) && s >= 0 && s < 32));
});

test('the same envelope gives byte-identical items on every retry', () => {
  const envelope = seal([play(0), play(1)], limits);
  assert.equal(JSON.stringify(toItem(envelope, 'id')), JSON.stringify(toItem(structuredClone(envelope), 'id')));
});

test('item size follows DynamoDB: names plus UTF-8 strings plus numbers', () => {
  assert.equal(numberSize(1_700_000_000_000), 2); // significant digits "17": 1 byte + 1
  assert.equal(numberSize(12345), 4);
  assert.equal(itemSize({ ab: { S: 'é' }, n: { N: '12' } }), 2 + 2 + 1 + 2);
  assert.equal(writeUnits(1024), 1);
  assert.equal(writeUnits(1025), 2);
  assert.equal(writeUnits(0), 1);
});

test('splitting an envelope keeps every event exactly once; the first half keeps its key', () => {
  const envelope = seal([0, 1, 2, 3, 4].map((i) => play(i)), limits);
  const halves = split(envelope, limits);
  assert.equal(halves.length, 2);
  assert.deepEqual(halves.flatMap((h) => h.ids), envelope.ids);
  assert.equal(halves[0].sk, envelope.sk);
  assert.notEqual(halves[1].id, envelope.id);
  assert.deepEqual(JSON.parse(halves[1].events)[0][2], JSON.parse(envelope.events)[3][2]);
});

test('packer: the 2015 shape (one play per second) uses whole write units well', () => {
  let now = 1_700_000_000_000;
  const packer = createPacker(limits, () => now);
  const envelopes = [];
  for (let i = 0; i < 1000; i++) {
    now = 1_700_000_000_000 + i * 1000;
    for (const group of [...packer.add(play(i, now)), ...packer.due()]) envelopes.push(seal(group.events, limits, group.id));
  }
  for (const group of packer.all()) envelopes.push(seal(group.events, limits, group.id));
  assert.equal(envelopes.reduce((n, e) => n + e.count, 0), 1000);
  const units = envelopes.reduce((n, e) => n + writeUnits(e.bytes), 0);
  assert.ok(envelopes.length <= 1000 / 20, `requests per 1,000 events: ${envelopes.length}`);
  assert.ok(units <= 1000 / 5, `write units per 1,000 events: ${units}`);
  for (const e of envelopes) assert.ok(e.last - e.first <= 30_000, 'no event waits longer than maxDelaySeconds');
});

test('packer: a burst fills envelopes up to the byte bound and never past it', () => {
  const packer = createPacker({ ...limits, envelopeMaxBytes: 4096 }, () => 0);
  const sealed = [];
  for (let i = 0; i < 100; i++) sealed.push(...packer.add(play(i, 0)));
  sealed.push(...packer.all());
  const envelopes = sealed.map((g) => seal(g.events, limits, g.id));
  assert.equal(envelopes.reduce((n, e) => n + e.count, 0), 100);
  for (const e of envelopes) assert.ok(e.bytes <= 4096, `envelope of ${e.bytes} bytes`);
});

test('packer: count bound, separate groups per topic+subject, and the delay timer', () => {
  let now = 0;
  const packer = createPacker({ ...limits, envelopeMaxEvents: 3 }, () => now);
  assert.deepEqual(packer.add(play(0, 0)), []);
  assert.deepEqual(packer.add({ ...play(1, 0), subject: 'song-9' }), []);
  assert.deepEqual(packer.add(play(2, 0)), []);
  const full = packer.add(play(3, 0));
  assert.equal(full.length, 1);
  assert.equal(full[0].events.length, 3);
  assert.equal(packer.nextDueIn(), 30_000);
  now = 29_999;
  assert.deepEqual(packer.due(), []);
  now = 30_000;
  const due = packer.due();
  assert.equal(due.length, 1);
  assert.equal(due[0].events[0].subject, 'song-9');
  assert.equal(packer.nextDueIn(), -1);
});

test('packer: a group keeps its envelope id and key as it grows; an older event starts a new group', () => {
  const packer = createPacker(limits, () => 0);
  packer.add(play(1));
  const [open] = packer.open();
  const before = seal(open.events, limits, open.id);
  packer.add(play(2));
  assert.equal(packer.open().length, 1);
  const [grown] = packer.all();
  assert.equal(grown.id, open.id);
  const after = seal(grown.events, limits, grown.id);
  assert.equal(after.sk, before.sk);
  assert.deepEqual(after.ids.slice(0, 1), before.ids);
  packer.add(play(5));
  const ready = packer.add(play(4));
  assert.equal(ready.length, 1, 'an event older than the group seals it');
  assert.notEqual(packer.open()[0].id, ready[0].id);
});

test('packer: no envelope spans maxDelaySeconds of event time, so a reader that looks an hour back finds every event', () => {
  // An outbox read at once (a returning visitor's, a closed tab's): events hours apart reach the packer together.
  const packer = createPacker(limits, () => 0);
  const at = [0, 10, 29.999, 30, 3600, 7200, 7229].map((s, i) => play(i, 1_700_000_000_000 + s * 1000));
  const ready = at.flatMap((event) => packer.add(event)).concat(packer.all());
  assert.deepEqual(ready.map((g) => g.events.length), [3, 1, 1, 2]);
  for (const { events } of ready) assert.ok(events[events.length - 1].ts - events[0].ts < limits.maxDelaySeconds * 1000);
});

test('outbox bound: the oldest envelopes go first until events and bytes fit, never one in flight', () => {
  const envelopes = [
    { id: 'c', first: 3, count: 10, bytes: 1000 },
    { id: 'a', first: 1, count: 10, bytes: 1000 },
    { id: 'b', first: 2, count: 10, bytes: 1000 },
    { id: 'd', first: 4, count: 10, bytes: 1000 },
  ];
  const limits = { outboxMaxEvents: 25, outboxMaxBytes: 1e9 };
  const totals = { count: 40, bytes: 4000 };
  const byCount = overflow(envelopes, totals, limits);
  assert.deepEqual(byCount.map((e) => e.id), ['a', 'b']);
  assert.deepEqual(totals, { count: 20, bytes: 2000 }, 'what is left');

  const byBytes = overflow(envelopes, { count: 40, bytes: 4000 }, { outboxMaxEvents: 1e6, outboxMaxBytes: 3500 });
  assert.deepEqual(byBytes.map((e) => e.id), ['a']);

  const busy = overflow(envelopes, { count: 40, bytes: 4000 }, limits, new Set(['a']));
  assert.deepEqual(busy.map((e) => e.id), ['b', 'c']);

  assert.deepEqual(overflow(envelopes, { count: 25, bytes: 100 }, limits), []);
});
