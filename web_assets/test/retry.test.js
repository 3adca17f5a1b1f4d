import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoff, classify, errorType, serverTime } from '../src/retry.js';

/** A seeded random source (mulberry32), so the schedule is the same on every run. */
function seeded(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('full jitter: each wait is uniform in [0, min(cap, base * 2^attempt))', () => {
  const random = seeded(42);
  const waits = Array.from({ length: 12 }, (_, attempt) => backoff(attempt, random));
  waits.forEach((wait, attempt) => {
    assert.ok(wait >= 0 && wait < Math.min(60_000, 500 * 2 ** attempt), `attempt ${attempt}: ${wait}`);
  });
  assert.equal(backoff(3, () => 0.999999), 3999);
  assert.equal(backoff(50, () => 0.5), 30_000); // capped at 60 s
  assert.equal(backoff(0, () => 0), 0);
});

test('the same seed gives the same schedule', () => {
  const a = seeded(7);
  const b = seeded(7);
  assert.deepEqual([0, 1, 2, 3, 4].map((n) => backoff(n, a)), [0, 1, 2, 3, 4].map((n) => backoff(n, b)));
});

test('error types are read from AWS JSON bodies', () => {
  assert.equal(errorType({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException' }), 'ThrottlingException');
  assert.equal(errorType({ __type: 'ValidationException' }), 'ValidationException');
  assert.equal(errorType(undefined), '');
});

test('classification: retry what can succeed on retry, refresh credentials, split invalid', () => {
  const ddb = (type, status = 400) => ({ status, body: { __type: `com.amazonaws.dynamodb.v20120810#${type}` } });
  assert.equal(classify({ status: 200, body: {} }), 'ok');
  assert.equal(classify(ddb('ConditionalCheckFailedException')), 'ok', 'a copy with at least as many events is stored');
  assert.equal(classify({ message: 'Failed to fetch' }), 'retry', 'no response: a network error');
  assert.equal(classify({ status: 500 }), 'retry');
  assert.equal(classify({ status: 503 }), 'retry');
  assert.equal(classify(ddb('ProvisionedThroughputExceededException')), 'retry');
  assert.equal(classify(ddb('ThrottlingException')), 'retry');
  assert.equal(classify(ddb('RequestLimitExceeded')), 'retry');
  assert.equal(classify(ddb('ExpiredTokenException')), 'refresh');
  assert.equal(classify(ddb('InvalidSignatureException', 403)), 'refresh');
  assert.equal(classify(ddb('UnrecognizedClientException')), 'refresh');
  assert.equal(classify(ddb('ValidationException')), 'invalid');
  assert.equal(classify(ddb('AccessDeniedException')), 'fatal');
});

test("the server's time is read from a refused signature's message", () => {
  const expired = 'Signature expired: 20261127T080000Z is now earlier than 20261127T081500Z (20261127T083000Z - 15 min.)';
  assert.equal(serverTime(expired), Date.UTC(2026, 10, 27, 8, 30, 0));
  const early = 'Signature not yet current: 20261127T120000Z is still later than 20261127T084500Z (20261127T083000Z + 15 min.)';
  assert.equal(serverTime(early), Date.UTC(2026, 10, 27, 8, 30, 0));
  assert.equal(classify({ status: 400, body: { __type: 'com.amazon.coral.service#InvalidSignatureException', message: expired } }), 'refresh');
  assert.equal(serverTime('The security token included in the request is invalid.'), undefined);
  assert.equal(serverTime(), undefined);
});
