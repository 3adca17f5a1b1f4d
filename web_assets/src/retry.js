// What to do after a request fails, and how long to wait: exponential backoff with full jitter.

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 60_000;

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'TooManyRequestsException',
]);
const REFRESH = new Set(['ExpiredTokenException', 'InvalidSignatureException', 'UnrecognizedClientException', 'ExpiredToken']);

/**
 * Full jitter (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):
 * a uniformly random wait between 0 and min(cap, base * 2^attempt).
 * @param {number} attempt 0 for the first retry
 * @param {() => number} random in [0, 1)
 */
export function backoff(attempt, random = Math.random, base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS) {
  return Math.floor(random() * Math.min(cap, base * 2 ** Math.min(attempt, 30)));
}

/**
 * The short error name of an AWS JSON error body ("com.amazonaws...#ThrottlingException" -> "ThrottlingException").
 * @param {unknown} body
 */
export function errorType(body) {
  const type = body && typeof body === 'object' ? /** @type {any} */ (body).__type || /** @type {any} */ (body).code || '' : '';
  return String(type).split('#').pop() || '';
}

/**
 * @typedef {'ok' | 'retry' | 'refresh' | 'invalid' | 'fatal'} Outcome
 * @param {{status?: number, body?: unknown, networkError?: boolean}} response
 * @returns {Outcome}
 */
export function classify({ status = 0, body, networkError = false }) {
  if (networkError) return 'retry';
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 500 || status === 429) return 'retry';
  const type = errorType(body);
  if (THROTTLING.has(type)) return 'retry';
  if (REFRESH.has(type) || status === 403 && /expired|signature/i.test(JSON.stringify(body || ''))) return 'refresh';
  if (type === 'ValidationException' || type === 'SerializationException') return 'invalid';
  if (type === 'ResourceNotFoundException') return 'retry'; // table still being created; keep the events
  return 'fatal';
}
