// Synchronous validation of track() arguments, shared by the loader (throws at the call site) and the
// worker (defends against anything that bypassed the loader). Errors name the problem precisely.

export const TOPIC_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;
export const SUBJECT_MAX = 256;
export const DEFAULT_MAX_EVENT_BYTES = 8192;
const MAX_DEPTH = 32;

/** @param {ErrorConstructor} Type @param {string} message @returns {never} */
export function fail(Type, message) {
  throw new Type('putonly: ' + message);
}

/**
 * @param {unknown} topic
 * @returns {string}
 */
export function checkTopic(topic) {
  if (typeof topic !== 'string' || !TOPIC_PATTERN.test(topic)) {
    fail(TypeError, `topic ${JSON.stringify(String(topic).slice(0, 80))} (${typeof topic}) must be a string matching ${TOPIC_PATTERN}`);
  }
  return topic;
}

/**
 * A subject is what the event is about (a song id, a page path). Optional; strings or safe integers.
 * @param {unknown} subject
 * @returns {string}
 */
export function checkSubject(subject) {
  if (subject == null) return '';
  if (Number.isSafeInteger(subject)) return String(subject);
  if (typeof subject !== 'string') fail(TypeError, `subject must be a string or a safe integer, got ${typeof subject}`);
  if (!subject || subject.length > SUBJECT_MAX) fail(RangeError, `subject must be 1 to ${SUBJECT_MAX} characters, got ${subject.length}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(subject)) fail(TypeError, 'subject must not contain control characters');
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
  if (data === undefined) fail(TypeError, 'data is undefined; pass null or an object');
  walk(data, 'data', [], 0);
  const json = JSON.stringify(data);
  const bytes = utf8Length(json);
  if (bytes > maxBytes) fail(RangeError, `data is ${bytes} bytes as JSON; the limit is ${maxBytes}`);
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
  const type = typeof value;
  if (type === 'string' || type === 'boolean' || value === null) return;
  if (type === 'number') {
    if (!Number.isFinite(value)) fail(TypeError, `${path} is ${value}; JSON cannot represent it`);
    return;
  }
  if (type !== 'object') {
    fail(TypeError, `${path} is ${type === 'undefined' ? 'undefined' : type === 'bigint' ? 'a BigInt' : 'a ' + type}; JSON cannot represent it`);
  }
  const object = /** @type {object} */ (value);
  if (depth >= MAX_DEPTH) fail(RangeError, `${path} is nested deeper than ${MAX_DEPTH} levels`);
  if (seen.includes(object)) fail(TypeError, `${path} refers back to itself (a cycle)`);
  seen.push(object);
  if (Array.isArray(object)) {
    object.forEach((item, i) => walk(item, `${path}[${i}]`, seen, depth + 1));
  } else {
    const proto = Object.getPrototypeOf(object);
    if (proto && proto !== Object.prototype) fail(TypeError, `${path} is a ${proto.constructor?.name}, not a plain object; convert it first`);
    for (const key in object) walk(/** @type {any} */ (object)[key], `${path}.${key}`, seen, depth + 1);
  }
  seen.pop();
}
