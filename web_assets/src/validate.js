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

// UTF-16 code units JSON.stringify escapes in a string: quote, backslash, controls, and lone surrogates.
// eslint-disable-next-line no-control-regex
const ESCAPE = /["\\\u0000-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// Not fit for a key: controls, DEL, and lone surrogates (not valid UTF-8).
// eslint-disable-next-line no-control-regex
const UNFIT = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const SHORT = /** @type {Record<string, string>} */ ({ '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' });

// eslint-disable-next-line no-control-regex
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** A string as JSON text, byte for byte as a clean realm's JSON.stringify writes it. @param {string} text */
export const quote = (text) =>
  PLAIN.test(text) ? `"${text}"` : `"${text.replace(ESCAPE, (c) => SHORT[c] || '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))}"`;

/**
 * A subject is what the event is about (a song id, a page path). Optional; strings or safe integers.
 * It goes into a key, so it must be valid UTF-8: no lone surrogates.
 * @param {unknown} subject
 * @returns {string}
 */
export function checkSubject(subject) {
  if (subject == null) return '';
  if (Number.isSafeInteger(subject)) return String(subject);
  if (typeof subject !== 'string') fail(TypeError, `subject must be a string or a safe integer, got ${typeof subject}`);
  if (!subject || subject.length > SUBJECT_MAX) fail(RangeError, `subject must be 1 to ${SUBJECT_MAX} characters, got ${subject.length}`);
  if (UNFIT.test(subject)) fail(TypeError, 'subject must not contain control characters or lone surrogates');
  return subject;
}

/**
 * Serializes ``data`` to JSON in one pass that reads each value once (a getter or a Proxy trap runs once), so
 * what is checked is what is stored. It writes what a clean realm's JSON.stringify writes for plain data, and
 * trusts none of the page's globals for it (a page may have wrapped JSON.stringify or added toJSON methods to
 * prototypes: they are not used). Refused, naming where: undefined (also array holes), functions, symbols,
 * BigInt, NaN/Infinity, cycles, nesting deeper than 32 levels, objects that are not plain (Date, Map, class
 * instances; plain objects from other frames are fine), objects with their own toJSON, and values whose
 * reading throws.
 * @param {unknown} data
 * @param {number} maxBytes
 * @returns {{json: string, bytes: number}}
 */
export function serializeData(data, maxBytes = DEFAULT_MAX_EVENT_BYTES) {
  if (data === undefined) fail(TypeError, 'data is undefined; pass null or an object');
  keys.length = seen.length = 0;
  const json = write(data);
  const bytes = utf8Length(json);
  if (bytes > maxBytes) fail(RangeError, `data is ${bytes} bytes as JSON; the limit is ${maxBytes}`);
  return { json, bytes };
}

/** Keys from ``data`` to the value being written: the path is spelt out only when something is wrong. @type {(string | number)[]} */
const keys = [];
/** The objects being written, outermost first (cycles, depth). @type {object[]} */
const seen = [];

/** @param {ErrorConstructor} Type @param {string} what @returns {never} */
const bad = (Type, what) => fail(Type, `data${keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')} ${what}`);

/** @param {unknown} value @returns {string} */
function write(value) {
  const type = typeof value;
  if (type === 'string') return quote(/** @type {string} */ (value));
  if (type === 'number') return Number.isFinite(value) ? '' + value : bad(TypeError, `is ${value}; JSON cannot represent it`);
  if (type === 'boolean') return value ? 'true' : 'false';
  if (value === null) return 'null';
  if (type !== 'object') bad(TypeError, `is ${type === 'undefined' ? 'undefined' : type === 'bigint' ? 'a BigInt' : 'a ' + type}; JSON cannot represent it`);
  const object = /** @type {any} */ (value);
  if (seen.length >= MAX_DEPTH) bad(RangeError, `is nested deeper than ${MAX_DEPTH} levels`);
  if (seen.includes(object)) bad(TypeError, 'refers back to itself (a cycle)');
  // JSON.stringify would call it and store its result: refused, like the functions it is. Inherited ones (a page
  // that added toJSON to Object or Array prototypes) are not the data's and are ignored, as in a clean realm.
  if (Object.hasOwn(object, 'toJSON')) bad(TypeError, 'has its own toJSON(); pass the plain data it stands for');
  seen.push(object);
  let json = '';
  try {
    if (Array.isArray(object)) {
      for (let i = 0, n = object.length; i < n; i++) {
        keys.push(i);
        json += (i ? ',' : '') + write(object[i]);
        keys.pop();
      }
      json = `[${json}]`;
    } else {
      const proto = Object.getPrototypeOf(object);
      if (proto !== Object.prototype && proto && Object.getPrototypeOf(proto)) bad(TypeError, `is a ${proto.constructor?.name}, not a plain object; convert it first`);
      for (const key of Object.keys(object)) {
        keys.push(key);
        json += (json ? ',' : '') + quote(key) + ':' + write(object[key]);
        keys.pop();
      }
      json = `{${json}}`;
    }
  } catch (err) {
    // A getter or a Proxy trap of the page's threw: say where, as a TypeError like the rest.
    if (String(/** @type {Error} */ (err)?.message).startsWith('putonly:')) throw err;
    bad(TypeError, `cannot be read: ${/** @type {Error} */ (err)?.message || err}`);
  }
  seen.pop();
  return json;
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
