import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guestCredentials } from '../src/aws.js';

/** A fake Cognito: records calls, answers from a script. */
function cognito(now, lifetimeSeconds = 3600) {
  const calls = [];
  let n = 0;
  const fetch = async (url, init) => {
    const target = init.headers['X-Amz-Target'].split('.')[1];
    calls.push({ url, target, body: JSON.parse(init.body) });
    const body = target === 'GetId'
      ? { IdentityId: 'us-east-1:visitor-1' }
      : { IdentityId: 'us-east-1:visitor-1', Credentials: { AccessKeyId: `AK${++n}`, SecretKey: 's', SessionToken: 't', Expiration: now() / 1000 + lifetimeSeconds } };
    return new Response(JSON.stringify(body), { status: 200 });
  };
  return { fetch, calls };
}

const config = { region: 'us-east-1', identityPoolId: 'us-east-1:pool', tableName: 't', endpoints: { cognito: 'http://127.0.0.1:1/' } };

test('a returning visitor keeps the identity id it was given', async () => {
  let clock = 1_000_000;
  const now = () => clock;
  const fake = cognito(now);
  let saved;
  const creds = guestCredentials({ config, fetch: fake.fetch, now, loadId: async () => saved, claimId: async (id) => (saved ||= id), forgetId: async (id) => void (saved === id && (saved = undefined)) });
  const first = await creds.get();
  assert.equal(first.identityId, 'us-east-1:visitor-1');
  assert.deepEqual(fake.calls.map((c) => c.target), ['GetId', 'GetCredentialsForIdentity']);
  assert.equal(fake.calls[0].url, 'http://127.0.0.1:1/');

  const again = guestCredentials({ config, fetch: fake.fetch, now, loadId: async () => saved, claimId: async (id) => id, forgetId: async () => {} });
  await again.get();
  assert.deepEqual(fake.calls.slice(2).map((c) => c.target), ['GetCredentialsForIdentity']);
  assert.equal(fake.calls[2].body.IdentityId, 'us-east-1:visitor-1');
});

test('credentials are reused, then refreshed five minutes before an hour-long expiry', async () => {
  let clock = 0;
  const fake = cognito(() => clock);
  const creds = guestCredentials({ config, fetch: fake.fetch, now: () => clock, loadId: async () => 'id', claimId: async (id) => id, forgetId: async () => {} });
  assert.equal((await creds.get()).accessKeyId, 'AK1');
  clock = 54 * 60_000;
  assert.equal((await creds.get()).accessKeyId, 'AK1');
  clock = 55 * 60_000;
  assert.equal((await creds.get()).accessKeyId, 'AK2');
});

test('short-lived credentials (90 s, as the emulator gives) are refreshed at half their lifetime', async () => {
  let clock = 0;
  const fake = cognito(() => clock, 90);
  const creds = guestCredentials({ config, fetch: fake.fetch, now: () => clock, loadId: async () => 'id', claimId: async (id) => id, forgetId: async () => {} });
  assert.equal((await creds.get()).accessKeyId, 'AK1');
  clock = 44_999;
  assert.equal((await creds.get()).accessKeyId, 'AK1');
  clock = 45_000;
  assert.equal((await creds.get()).accessKeyId, 'AK2');
});

test('invalidate() forces new credentials (after an expired-token reply)', async () => {
  const fake = cognito(() => 0);
  const creds = guestCredentials({ config, fetch: fake.fetch, now: () => 0, loadId: async () => 'id', claimId: async (id) => id, forgetId: async () => {} });
  await creds.get();
  creds.invalidate();
  assert.equal((await creds.get()).accessKeyId, 'AK2');
});

test('a network failure rejects with a message naming the call', async () => {
  const creds = guestCredentials({
    config,
    fetch: async () => { throw new TypeError('Failed to fetch'); },
    loadId: async () => undefined,
    claimId: async (id) => id,
    forgetId: async () => {},
  });
  await assert.rejects(creds.get(), { message: 'putonly: GetId failed: network error' });
});

test('an identity the pool no longer knows is forgotten, so the next attempt starts a new one', async () => {
  let saved = 'us-east-1:gone';
  const fetch = async (url, init) => {
    const target = init.headers['X-Amz-Target'].split('.')[1];
    const body = JSON.parse(init.body);
    if (target === 'GetCredentialsForIdentity' && body.IdentityId === 'us-east-1:gone') {
      return new Response(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'Identity not found' }), { status: 400 });
    }
    return new Response(JSON.stringify(target === 'GetId'
      ? { IdentityId: 'us-east-1:new' }
      : { Credentials: { AccessKeyId: 'AK', SecretKey: 's', SessionToken: 't', Expiration: 3600 } }), { status: 200 });
  };
  const creds = guestCredentials({ config, fetch, now: () => 0, loadId: async () => saved, claimId: async (id) => (saved ||= id), forgetId: async (id) => void (saved === id && (saved = undefined)) });
  await assert.rejects(creds.get(), { message: 'putonly: GetCredentialsForIdentity failed: 400 Identity not found' });
  assert.equal((await creds.get()).identityId, 'us-east-1:new');
  assert.equal(saved, 'us-east-1:new');
});

test('two tabs of a first visit end up with one identity: the one stored first', async () => {
  const fake = cognito(() => 0);
  let stored = 'us-east-1:other-tab';
  const creds = guestCredentials({ config, fetch: fake.fetch, now: () => 0, loadId: async () => undefined, claimId: async () => stored, forgetId: async () => {} });
  assert.equal((await creds.get()).identityId, 'us-east-1:other-tab');
  assert.deepEqual(fake.calls.map((c) => [c.target, c.body.IdentityId]), [['GetId', undefined], ['GetCredentialsForIdentity', 'us-east-1:other-tab']]);
});
