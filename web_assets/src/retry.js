// What to do after a request fails, and how long to wait: exponential backoff with full jitter.

/**
 * Full jitter (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):
 * a uniformly random wait between 0 and min(60 s, 500 ms * 2^attempt).
 * @param {number} attempt 0 for the first retry
 * @param {() => number} random in [0, 1)
 */
export const backoff = (attempt, random = Math.random) => Math.floor(random() * Math.min(60_000, 500 * 2 ** Math.min(attempt, 30)));

/**
 * The short error name of an AWS JSON error body ("com.amazonaws...#ThrottlingException" -> "ThrottlingException").
 * @param {any} body
 */
export const errorType = (body) => /** @type {string} */ (String(body?.__type || body?.code || '').split('#').pop());

/**
 * Retry what can succeed on retry (network errors, 5xx, 429, throttling, a table still being created),
 * refresh credentials when they expired or were refused, split what DynamoDB calls invalid. A refused
 * condition counts as stored: copies of one envelope only gain events, and a larger one is there.
 * @typedef {'ok' | 'retry' | 'refresh' | 'invalid' | 'fatal'} Outcome
 * @param {{status?: number, body?: unknown}} response no status: no response came (a network error)
 * @returns {Outcome}
 */
export function classify({ status = 0, body }) {
  const type = errorType(body);
  // A conditional put refused: a copy of this envelope with at least as many events is stored already.
  if ((status > 199 && status < 300) || type === 'ConditionalCheckFailedException') return 'ok';
  if (!status || status > 499 || status === 429 || /Throughput|Throttl|LimitExceeded|TooMany|NotFound/.test(type)) return 'retry';
  if (/Expired|Signature|Unrecognized/.test(type)) return 'refresh';
  return /Validation|Serialization/.test(type) ? 'invalid' : 'fatal';
}

/**
 * The server's clock from a refused signature's message, e.g. "Signature expired: 20261127T080000Z is now
 * earlier than 20261127T081500Z (20261127T083000Z - 15 min.)", in ms; so a device whose clock is wrong
 * can sign in the server's time. undefined when the message carries none.
 * @param {string} [message]
 */
export function serverTime(message) {
  const m = /\((\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z [+-] 15 min\.\)/.exec(/** @type {string} */ (message)); // (none: "undefined" matches nothing)
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}
