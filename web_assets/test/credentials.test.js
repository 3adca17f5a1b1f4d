import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guestCredentials } from '../src/aws.js';

/** A fake Cognito: records calls, answers from a script. */
function cognito(now, lifetimeSeconds = 3600) {
  const calls = [];
  let n = 0;
  const fetch = async (url, init) => {
    const target = init.headers['x-amz-target'].split('.')[1];
    calls.push({ url, target, body: JSON.parse(init.body) });
    const body = target === 'GetId'
      ? { IdentityId: 'us-east-1:visitor-1' }
      : { IdentityId: 'us-east-1:visitor-1', Credentials: { AccessKeyId: `AK${++n}`, SecretKey: 's', SessionToken: 't', Expiration: now() / 1000 + lifetimeSeconds } };
    return new Response(JSON.stringify(body), { status: 200 });
  };
  return { fetch, calls };
}

const config = { region: 'us-east-1', identityPoolId: 'us-east-1:pool', tableName: 't', endpoints: { cognito: 'http://127.0.0.1:1/' } };

/** A fake of the outbox's meta values (store.js): reads ``saved.identityId``; an update replaces it. */
const metaOf = (saved) => async (key, update) => {
  assert.equal(key, 'identityId');
  if (update) saved.identityId = update(saved.identityId);
  return saved.identityId;
};

test('a returning visitor keeps the identity id it was given', async () => {
  let clock = 1_000_000;
  const now = () => clock;
  const fake = cognito(now);
  const saved = {};
  const creds = guestCredentials(config, metaOf(saved), now, fake.fetch);
  const first = await creds.get();
  assert.equal(first.identityId, 'us-east-1:visitor-1');
  assert.equal(saved.identityId, 'us-east-1:visitor-1');
  assert.deepEqual(fake.calls.map((c) => c.target), ['GetId', 'GetCredentialsForIdentity']);
  assert.equal(fake.calls[0].url, 'http://127.0.0.1:1/');

  const again = guestCredentials(config, metaOf(saved), now, fake.fetch);
  await again.get();
  assert.deepEqual(fake.calls.slice(2).map((c) => c.target), ['GetCredentialsForIdentity']);
  assert.equal(fake.calls[2].body.IdentityId, 'us-east-1:visitor-1');
});

test('credentials are reused, then refreshed five minutes before an hour-long expiry', async () => {
  let clock = 0;
  const fake = cognito(() => clock);
  const creds = guestCredentials(config, metaOf({ identityId: 'id' }), () => clock, fake.fetch);
  assert.equal((await creds.get()).AccessKeyId, 'AK1');
  clock = 54 * 60_000;
  assert.equal((await creds.get()).AccessKeyId, 'AK1');
  clock = 55 * 60_000;
  assert.equal((await creds.get()).AccessKeyId, 'AK2');
});

test('short-lived credentials (90 s, as the emulator gives) are refreshed at half their lifetime', async () => {
  let clock = 0;
  const fake = cognito(() => clock, 90);
  const creds = guestCredentials(config, metaOf({ identityId: 'id' }), () => clock, fake.fetch);
  assert.equal((await creds.get()).AccessKeyId, 'AK1');
  clock = 44_999;
  assert.equal((await creds.get()).AccessKeyId, 'AK1');
  clock = 45_000;
  assert.equal((await creds.get()).AccessKeyId, 'AK2');
});

test('invalidate() forces new credentials (after an expired-token reply)', async () => {
  const fake = cognito(() => 0);
  const creds = guestCredentials(config, metaOf({ identityId: 'id' }), () => 0, fake.fetch);
  await creds.get();
  creds.invalidate();
  assert.equal((await creds.get()).AccessKeyId, 'AK2');
});

test('a network failure rejects with a message naming the call', async () => {
  const creds = guestCredentials(config, metaOf({}), Date.now, async () => { throw new TypeError('Failed to fetch'); });
  await assert.rejects(creds.get(), { message: 'putonly: GetId failed: network error' });
});

test('an identity the pool no longer knows is forgotten, so the next attempt starts a new one', async () => {
  const saved = { identityId: 'us-east-1:gone' };
  const fetch = async (url, init) => {
    const target = init.headers['x-amz-target'].split('.')[1];
    const body = JSON.parse(init.body);
    if (target === 'GetCredentialsForIdentity' && body.IdentityId === 'us-east-1:gone') {
      return new Response(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'Identity not found' }), { status: 400 });
    }
    return new Response(JSON.stringify(target === 'GetId'
      ? { IdentityId: 'us-east-1:new' }
      : { Credentials: { AccessKeyId: 'AK', SecretKey: 's', SessionToken: 't', Expiration: 3600 } }), { status: 200 });
  };
  const creds = guestCredentials(config, metaOf(saved), () => 0, fetch);
  await assert.rejects(creds.get(), { message: 'putonly: GetCredentialsForIdentity failed: 400 Identity not found' });
  assert.equal(saved.identityId, undefined, 'forgotten');
  assert.equal((await creds.get()).identityId, 'us-east-1:new');
  assert.equal(saved.identityId, 'us-east-1:new');
});

test('two tabs of a first visit end up with one identity: the one stored first', async () => {
  const fake = cognito(() => 0);
  // Nothing stored when this tab looked; the other tab's id was stored before this one's GetId came back.
  const meta = async (key, update) => (update ? update('us-east-1:other-tab') : undefined);
  const creds = guestCredentials(config, meta, () => 0, fake.fetch);
  assert.equal((await creds.get()).identityId, 'us-east-1:other-tab');
  assert.deepEqual(fake.calls.map((c) => [c.target, c.body.IdentityId]), [['GetId', undefined], ['GetCredentialsForIdentity', 'us-east-1:other-tab']]);
});

test('callers share one fetch under way, also after an invalidate() meanwhile', async () => {
  let clock = 0;
  const fake = cognito(() => clock);
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  const slow = async (url, init) => (await gate, fake.fetch(url, init));
  const creds = guestCredentials(config, metaOf({ identityId: 'id' }), () => clock, slow);
  const asked = [creds.get()];
  for (let i = 0; i < 3; i++) {
    creds.invalidate(); // a refused signature, say, while the first fetch is on its way
    asked.push(creds.get());
  }
  release();
  const answers = await Promise.all(asked);
  assert.deepEqual(answers.map((c) => c.AccessKeyId), ['AK1', 'AK1', 'AK1', 'AK1']);
  assert.equal(fake.calls.length, 1);
  creds.invalidate(); // once it is in, invalidate() does ask again
  assert.equal((await creds.get()).AccessKeyId, 'AK2');
});

test('credentials retired by reset() while being fetched give nothing, and store no identity id', async () => {
  for (const returning of [false, true]) {
    const saved = returning ? { identityId: 'us-east-1:old' } : {};
    /** @type {(r: Response) => void} */
    let answer = () => {};
    const calls = [];
    const fetch = (url, init) => {
      calls.push(init.headers['x-amz-target'].split('.')[1]);
      return new Promise((resolve) => (answer = resolve));
    };
    const creds = guestCredentials(config, metaOf(saved), () => 0, fetch);
    const got = creds.get().then((c) => c.identityId, (err) => err.message);
    while (!calls.length) await new Promise((r) => setTimeout(r, 1));
    saved.identityId = undefined; // reset() forgets the identity
    creds.retire();
    answer(new Response(JSON.stringify(returning
      ? { Credentials: { AccessKeyId: 'AK', SecretKey: 's', SessionToken: 't', Expiration: 3600 } }
      : { IdentityId: 'us-east-1:old' }), { status: 200 }));
    assert.equal(await got, 'putonly: reset() forgot this identity', returning ? 'returning visitor' : 'first visit');
    assert.equal(saved.identityId, undefined, 'the old identity is not stored again');
  }
});
