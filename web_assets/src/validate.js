// Synchronous validation of track() arguments, shared by the loader (throws at the call site) and the
// worker (defends against anything that bypassed the loader). Errors name the problem precisely.

export const TOPIC_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;
export const SUBJECT_MAX = 256;
export const DEFAULT_MAX_EVENT_BYTES = 8192;
const MAX_DEPTH = 32;
// Taken when this script runs; used only to escape strings, which no toJSON and no replacer can reach. A page
// that wrapped JSON.stringify before (to indent, say) writes strings the same; one that writes them otherwise is
// not used: then every character JSON may escape is escaped (other bytes, the same JSON value).
const stringify = /* @__PURE__ */ (() =>
  JSON.stringify('\t"\ud800\u00e9') === '"\\t\\"\\ud800\u00e9"'
    ? JSON.stringify
    // eslint-disable-next-line no-control-regex
    : (/** @type {string} */ text) => `"${text.replace(/[\0-\x1f"\\\ud800-\udfff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))}"`)();

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
    // Not String() of an object: the page's toString would run here (or throw, without one).
    const shown = topic && (typeof topic === 'object' || typeof topic === 'function') ? '' : stringify(String(topic).slice(0, 80)) + ' ';
    fail(TypeError, `topic ${shown}(${typeof topic}) must be a string matching ${TOPIC_PATTERN}`);
  }
  return topic;
}

/**
 * A subject is what the event is about (a song id, a page path). Optional; strings or safe integers.
 * It goes into a key, so it must be valid UTF-8: no lone surrogates.
 * @param {unknown} subject
 * @returns {string}
 */
export function checkSubject(subject) {
  if (subject == null) return '';
  if (Number.isSafeInteger(subject)) return '' + subject;
  if (typeof subject !== 'string') fail(TypeError, `subject must be a string or a safe integer, got ${typeof subject}`);
  if (!subject || subject.length > SUBJECT_MAX) fail(RangeError, `subject must be 1 to ${SUBJECT_MAX} characters, got ${subject.length}`);
  // eslint-disable-next-line no-control-regex
  if (/[\0-\x1f\x7f]/.test(subject) || !wellFormed(subject)) {
    fail(TypeError, 'subject must not contain control characters or lone surrogates');
  }
  return subject;
}

/** No lone surrogates: isWellFormed (2023 on), else encodeURIComponent, which refuses them. @param {any} text */
function wellFormed(text) {
  try {
    return text.isWellFormed?.() ?? !!encodeURIComponent(text);
  } catch {
    return false;
  }
}

/** UTF-8 bytes of the JSON being written beyond one per UTF-16 code unit, counted as its strings are quoted. */
let extra = 0;

/** A string as JSON text, as a clean realm's JSON.stringify writes it. @param {string} text */
function quote(text) {
  // Printable ASCII but quote and backslash is written as it is, one byte per character (the common case). A loop:
  // for the short strings of most events it is several times faster than a regular expression.
  let i = 0;
  for (let c; i < text.length && (c = text.charCodeAt(i)) > 31 && c < 127 && c !== 34 && c !== 92; ) i++;
  if (i === text.length) return `"${text}"`;
  const json = stringify(text);
  extra += utf8Length(json) - json.length;
  return json;
}

/**
 * Serializes ``data`` to JSON in one pass that reads each value once (a getter or a Proxy trap runs once), so
 * what is checked is what is stored. It writes what a clean realm's JSON.stringify writes for plain data, and
 * calls none of the page's toJSON methods (a page may have added them to prototypes). Refused, naming where:
 * undefined (also array holes), functions, symbols, BigInt, NaN/Infinity, cycles, nesting deeper than 32 levels,
 * objects that are not plain (Date, Map, class instances; plain objects from other frames are fine), objects with
 * their own toJSON, and values whose reading throws.
 * @param {unknown} data
 * @param {number} maxBytes
 * @returns {{json: string, bytes: number}}
 */
export function serializeData(data, maxBytes = DEFAULT_MAX_EVENT_BYTES) {
  if (data === undefined) fail(TypeError, 'data is undefined; pass null or an object');
  const outer = extra; // a getter of the page's may call track() in the middle of this
  extra = 0;
  let json;
  try {
    json = write(data, []);
  } catch (err) {
    extra = outer;
    if (err instanceof Problem) fail(err.T, `data${err.path} ${err.what}`);
    throw err;
  }
  const bytes = json.length + extra; // without reading the whole string again
  extra = outer;
  if (bytes > maxBytes) fail(RangeError, `data is ${bytes} bytes as JSON; the limit is ${maxBytes}`);
  return { json, bytes };
}

/** What is wrong inside ``data``. Each level it passes on the way out puts its key in front of ``path``, so the
 * path costs nothing unless something is wrong. */
class Problem {
  /** @param {string} what @param {ErrorConstructor} [T] */
  constructor(what, T = TypeError) {
    this.what = what;
    this.T = T;
    this.path = '';
  }
}

/**
 * What makes ``object`` not a plain object: its prototype when that is a class's (Date, Map, Array, one of the
 * page's), or null for a plain object, from this frame or another, or one without a prototype.
 * @param {object} object
 */
export function classOf(object) {
  const proto = Object.getPrototypeOf(object);
  return proto === Object.prototype || !proto || !Object.getPrototypeOf(proto) ? null : proto;
}

/** Keys as JSON with their colon, first and after a comma: most events repeat a few keys, and this is most of the
 * cost of writing them. @type {Map<string, string[]>} */
const heads = new Map();

/** @param {unknown} value @param {object[]} seen the objects being written, outermost first @returns {string} */
function write(value, seen) {
  const type = typeof value;
  if (type === 'string') return quote(/** @type {string} */ (value));
  // Finite numbers (x - x is NaN for NaN and Infinity), booleans and null are written as they print.
  if (type === 'number' ? /** @type {number} */ (value) - /** @type {number} */ (value) === 0 : type === 'boolean' || value === null) return '' + value;
  if (type !== 'object') {
    throw new Problem(`is ${type === 'number' ? value : type === 'bigint' ? 'a BigInt' : type === 'undefined' ? type : 'a ' + type}; JSON cannot represent it`);
  }
  const object = /** @type {any} */ (value);
  if (seen.length >= MAX_DEPTH) throw new Problem(`is nested deeper than ${MAX_DEPTH} levels`, RangeError);
  if (seen.includes(object)) throw new Problem('refers back to itself (a cycle)');
  seen.push(object);
  let json = '';
  /** The key being written, for the path when something below it is wrong. @type {string | number | undefined} */
  let key;
  try {
    // JSON.stringify would call it and store its result: refused, like the functions it is. Inherited ones (a page
    // that added toJSON to Object or Array prototypes) are not the data's and are ignored, as in a clean realm.
    if (Object.hasOwn(object, 'toJSON')) throw new Problem('has its own toJSON(); pass the plain data it stands for');
    if (Array.isArray(object)) {
      for (let i = 0, n = object.length; i < n; i++) json += (i ? ',' : '') + write(object[(key = i)], seen);
      json = `[${json}]`;
    } else {
      const proto = classOf(object);
      if (proto) throw new Problem(`is an instance of ${proto.constructor?.name}, not a plain object; convert it first`);
      json = '{';
      for (key of Object.keys(object)) {
        let head = heads.get(key);
        if (head === undefined) {
          const before = extra;
          head = [quote(key) + ':'];
          head[1] = ',' + head[0];
          if (extra === before && heads.size < 512 && key.length < 64) heads.set(key, head);
        }
        const item = object[key];
        // Strings and numbers, most values, without a call.
        json += head[+(json.length > 1)] + (typeof item === 'string' ? quote(item) : typeof item === 'number' && item - item === 0 ? '' + item : write(item, seen));
      }
      json += '}';
    }
  } catch (err) {
    // A getter or a Proxy trap of the page's threw: say where, as a TypeError like the rest.
    const problem = err instanceof Problem ? err : new Problem(`cannot be read: ${/** @type {Error} */ (err)?.message || err}`);
    if (key !== undefined) problem.path = (typeof key === 'number' ? `[${key}]` : `.${key}`) + problem.path;
    throw problem;
  }
  seen.pop();
  return json;
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\0-\x7f]*$/;
const encoder = new TextEncoder();

/**
 * UTF-8 length of a string (what DynamoDB counts), without encoding the common all-ASCII case.
 * @param {string} text
 */
export function utf8Length(text) {
  return ASCII.test(text) ? text.length : encoder.encode(text).length;
}
