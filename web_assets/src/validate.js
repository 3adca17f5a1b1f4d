// Synchronous validation of track() arguments, shared by the loader (throws at the call site) and the
// worker (defends against anything that bypassed the loader). Errors name the problem precisely.

export const TOPIC_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;
export const SUBJECT_MAX = 256;
export const DEFAULT_MAX_EVENT_BYTES = 8192;
const MAX_DEPTH = 32;

/**
 * @param {unknown} topic
 * @returns {string}
 */
export function checkTopic(topic) {
  if (typeof topic !== 'string') throw new TypeError(`putonly: topic must be a string, got ${describe(topic)}`);
  if (!TOPIC_PATTERN.test(topic)) {
    throw new TypeError(`putonly: topic ${JSON.stringify(topic.slice(0, 80))} must match ${TOPIC_PATTERN} (lower case, starts with a letter, at most 64 characters)`);
  }
  return topic;
}

/**
 * A subject is what the event is about (a song id, a page path). Optional; strings or safe integers.
 * @param {unknown} subject
 * @returns {string}
 */
export function checkSubject(subject) {
  if (subject === undefined || subject === null) return '';
  if (typeof subject === 'number' && Number.isSafeInteger(subject)) return String(subject);
  if (typeof subject !== 'string') {
    throw new TypeError(`putonly: subject must be a string or a safe integer, got ${describe(subject)}`);
  }
  if (subject.length === 0 || subject.length > SUBJECT_MAX) {
    throw new RangeError(`putonly: subject must be 1 to ${SUBJECT_MAX} characters, got ${subject.length}`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(subject)) throw new TypeError('putonly: subject must not contain control characters');
  return subject;
}

/**
 * Serializes ``data`` to JSON, refusing anything JSON would silently change: undefined, functions,
 * symbols, BigInt, NaN/Infinity, cycles, and objects that are not plain (Date, Map, class instances).
 * @param {unknown} data
 * @param {number} maxBytes
 * @returns {{json: string, bytes: number}}
 */
export function serializeData(data, maxBytes = DEFAULT_MAX_EVENT_BYTES) {
  if (data === undefined) throw new TypeError('putonly: data is undefined; pass null or an object');
  walk(data, 'data', [], 0);
  const json = JSON.stringify(data);
  const bytes = utf8Length(json);
  if (bytes > maxBytes) throw new RangeError(`putonly: data is ${bytes} bytes as JSON; the limit is ${maxBytes}`);
  return { json, bytes };
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0000-\u007f]*$/;
const encoder = new TextEncoder();

/**
 * UTF-8 length of a string (what DynamoDB counts), without encoding the common all-ASCII case.
 * @param {string} text
 */
export function utf8Length(text) {
  return ASCII.test(text) ? text.length : encoder.encode(text).length;
}

/** @param {unknown} value @param {string} path @param {object[]} seen @param {number} depth */
function walk(value, path, seen, depth) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`putonly: ${path} is ${value}; JSON has no NaN or Infinity`);
      return;
    case 'undefined':
      throw new TypeError(`putonly: ${path} is undefined; JSON would drop it (use null)`);
    case 'bigint':
      throw new TypeError(`putonly: ${path} is a BigInt; JSON cannot represent it (convert it to a string)`);
    case 'function':
    case 'symbol':
      throw new TypeError(`putonly: ${path} is a ${typeof value}; only JSON values can be tracked`);
  }
  if (value === null) return;
  if (depth >= MAX_DEPTH) throw new RangeError(`putonly: ${path} is nested deeper than ${MAX_DEPTH} levels`);
  if (seen.includes(/** @type {object} */ (value))) throw new TypeError(`putonly: ${path} refers back to itself (a cycle)`);
  seen.push(/** @type {object} */ (value));
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walk(value[i], `${path}[${i}]`, seen, depth + 1);
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto && proto.constructor && proto.constructor.name) || 'object';
      throw new TypeError(`putonly: ${path} is a ${name}, not a plain object; convert it first (a Date with toISOString())`);
    }
    for (const key of Object.keys(value)) walk(/** @type {any} */ (value)[key], `${path}.${key}`, seen, depth + 1);
  }
  seen.pop();
}

/** @param {unknown} value */
function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}
