// PutOnly loader: the classic script pages include. It validates track() calls synchronously, stamps
// them, and hands them to a same-origin Blob worker that imports the content-hashed worker bundle.
/* global __PUTONLY_WORKER__ */
import { newId } from './ids.js';
import { DEFAULT_MAX_EVENT_BYTES, checkSubject, checkTopic, classOf, fail, serializeData } from './validate.js';

(() => {
  const w = /** @type {any} */ (window);
  const stub = w.putonly;
  if (stub && stub.version) return; // included twice: keep the first

  /** A property of the document, from Document's own getter: the page's markup can shadow ``document.<name>``
   * (an <img name="currentScript">, DOM clobbering), and then the worker would be loaded from where it points.
   * @param {string} name */
  const doc = (name) => /** @type {any} */ (Object.getOwnPropertyDescriptor(Document.prototype, name)).get.call(document);
  // Set while a classic script (async or not) runs; the worker and config.json sit beside it.
  const base = new URL('.', doc('currentScript').src).href;
  // new Worker() must be same-origin, so a Blob worker imports the bundle from the tracker's origin.
  // If that fails (network, CSP), it says so, and die() makes the API refuse from then on.
  const source = `try{importScripts(${JSON.stringify(base + __PUTONLY_WORKER__)})}catch(e){postMessage({t:"dead",message:e.message})}`;
  const cannotStart = (/** @type {string} */ reason) => `putonly: cannot start the worker: ${reason}`;
  /** @type {Worker | undefined} */
  let worker;
  /** Why the worker could not start, if it could not: then track() returns null and flush() rejects. */
  let dead = '';
  try {
    worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
  } catch (err) {
    dead = cannotStart(/** @type {Error} */ (err).message); // e.g. a CSP that refuses blob: workers (Chromium)
  }

  const api = /** @type {EventTarget & Record<string, any>} */ (new EventTarget());
  /** Whole ms since the epoch. A page may have replaced Date.now (fractional or NaN): then performance's clock. */
  const now = (t = Date.now()) => Math.floor(t > 0 ? t : performance.timeOrigin + performance.now());
  let maxEventBytes = DEFAULT_MAX_EVENT_BYTES;
  // Until the worker, which reads any choice the visitor made here before and config.json (consentDefault,
  // honorGlobalPrivacyControl with Global Privacy Control), says tracking is off, events go to it: if it is off,
  // the worker stores none of them and names them in a drop event (reason "consent"). A guess from GPC alone
  // would lose the first events of a visitor who opted in, on every page.
  let consented = true;
  /** consent() calls the worker has not answered yet: until it has, the page's own choice stands. */
  let asking = 0;
  /** Events waiting for the next microtask, six fields each, each field followed by a tab: id, time, topic, subject,
   * bytes, data as JSON. The time is ms after the batch's first (``since``): a small number is written far faster than
   * a whole timestamp. */
  let outgoing = '';
  let since = 0;
  let flushes = 0;
  /** @type {Map<number, {resolve: (v: any) => void, reject: (e: Error) => void}>} */
  const waiting = new Map();
  // The end of a visit kills the worker and its requests. The worker keeps here a signed PutItem for each
  // envelope it has not confirmed (id -> [events, bytes, url, headers, body]); when the page is hidden or goes
  // away they are sent with keepalive, which outlives the page. The worker hears what was sent and the answers.
  /** @type {Map<string, [number, number, string, Record<string, string>, string]>} */
  const copies = new Map();
  /** reset() and consent(false) calls so far: copies the worker made before it handled the last one (it says
   * which it had, ``g``) are of events those calls dropped, and are not kept. */
  let gen = 0;
  /** Copies sent and not answered yet: id -> events. */
  const sending = new Map();
  let sendingBytes = 0;
  let hidden = false;

  // One string per batch: cloning it to the worker costs far less than cloning an object per event, or an array of
  // fields. Added to as events come (in Chromium about 0.1 µs less per event than joining an array of fields, and
  // less garbage). Unambiguous: JSON escapes tabs, and topics and subjects cannot contain them.
  /** @param {object} message */
  const post = (message) => dead || /** @type {Worker} */ (worker).postMessage(message);
  const send = () => {
    if (outgoing) post({ t: 'track', since, lines: outgoing });
    outgoing = '';
  };
  // The batch goes once the page's synchronous code is done. With await, the engine's own promise: a page's
  // replacement of Promise or queueMicrotask (zone.js, polyfills) cannot reach it, and in Chromium it costs
  // about 1.5 µs less per batch than queueMicrotask, which is most of a lone track() call.
  const later = async () => {
    await 0;
    send();
  };

  // The last topic and subject that passed: most calls repeat them, and then they are not checked again. NaN
  // equals nothing, itself included: until a topic passes, every one is checked (undefined too).
  /** @type {unknown} */
  let lastTopic = NaN;
  /** @type {unknown} */
  let lastGiven = null;
  let subject = '';

  /**
   * Records one event at ``ts`` (now, or when the stub queued it). Returns its id, or null when tracking is off.
   * @param {any} topic @param {unknown} data @param {any} options @param {number} ts
   */
  const record = (topic, data, options, ts) => {
    if (topic !== lastTopic) lastTopic = checkTopic(topic);
    // A plain object (from any frame): a Map or an array holding {subject} would otherwise store no subject.
    if (options !== undefined && (!options || typeof options !== 'object' || classOf(options))) {
      fail(TypeError, 'options must be a plain object: {subject}');
    }
    // Own keys only: a page's enumerable additions to Object.prototype are not options.
    for (const key in options) if (key !== 'subject' && Object.hasOwn(options, key)) fail(TypeError, `unknown option "${key}"; the only one is subject`);
    const given = options && Object.hasOwn(options, 'subject') ? options.subject : undefined;
    if (given !== lastGiven) (subject = checkSubject(given)), (lastGiven = given);
    // This event's: a getter in the data may call track() with another subject.
    const about = subject;
    const { json, bytes } = serializeData(data, maxEventBytes);
    if (!consented || dead) return null;
    let id;
    try {
      id = newId();
    } catch (err) {
      die(/** @type {Error} */ (err).message);
      return null;
    }
    if (!outgoing) later(), (since = ts);
    outgoing += `${id}\t${ts - since}\t${topic}\t${about}\t${bytes}\t${json}\t`;
    return id;
  };
  /**
   * Records one event. Returns its id, or null when tracking is off (no consent).
   * @param {string} topic what happened, e.g. "song_player" (lower case letters, digits, _ . -)
   * @param {unknown} data any JSON value (plain objects, arrays, strings, finite numbers, booleans, null)
   * @param {{subject?: string | number}} [options] what it happened to, e.g. {subject: "song-123"}
   */
  api.track = (topic, data, options) => record(topic, data, options, now());

  /** Asks the worker; its reply settles the Promise. @param {string} t @param {number} [g] */
  const ask = (t, g) => {
    if (dead) return Promise.reject(new Error(dead));
    send();
    const n = ++flushes;
    post({ t, n, g });
    return new Promise((resolve, reject) => waiting.set(n, { resolve, reject }));
  };
  /** Resolves once every event tracked so far is stored; rejects with the reason otherwise. */
  api.flush = () => ask('flush');
  /** The visitor's identity id (the partition their events are stored under), or null when there is none yet. */
  api.identity = () => ask('identity');
  /** Forgets this browser's identity and outbox (what is not sent yet is dropped); the next event starts a new identity. */
  api.reset = () => (copies.clear(), ask('reset', ++gen));

  /** consent(false) stops tracking and clears the outbox; consent(true) resumes. Remembered per origin. */
  api.consent = (/** @type {boolean} */ value) => {
    if (typeof value !== 'boolean') fail(TypeError, 'consent() takes true or false');
    consented = value;
    asking++;
    // The events tracked before go first: the worker names them in its drop event.
    if (!value) send(), copies.clear(), gen++;
    post({ t: 'consent', value, g: gen });
  };
  api.version = 1;

  /** Tells the page's listeners (error, drop, sent) and the console. @param {string} type @param {any} detail */
  const emit = (type, detail) => {
    api.dispatchEvent(new CustomEvent(type, { detail }));
    if (detail.message) console.warn(detail.message);
  };

  /** The worker failed after it was created, or the page broke what tracking needs: say so once, then refuse. @param {string} reason */
  const die = (reason) => {
    if (dead) return;
    dead = reason.startsWith('putonly:') ? reason : cannotStart(reason);
    emit('error', { ids: [], message: dead });
    for (const waiter of waiting.values()) waiter.reject(new Error(dead));
    waiting.clear();
  };

  let heard = false;
  // Before the worker has said anything, an error means it never ran (e.g. a CSP refusing blob: workers).
  if (worker) worker.onerror = (e) => void (heard || die(e.message || "refused (does the page's Content-Security-Policy allow worker-src blob:?)"));
  if (worker) worker.onmessage = ({ data }) => {
    heard = true;
    if (data.t === 'dead') {
      die(data.message);
    } else if (data.t === 'ready') {
      if (!asking) consented = data.consent;
      maxEventBytes = data.maxEventBytes || maxEventBytes;
    } else if (data.t === 'copies') {
      // Not while off, nor copies the worker made before it heard of a consent(false) or reset(): never sent.
      if (consented && data.g === gen) for (const [id, ...copy] of data.put) copies.set(id, /** @type {any} */ (copy));
      for (const id of data.drop) copies.delete(id);
      if (hidden) keep();
    } else if (data.t === 'consent') {
      // The worker's state after consent() here or in another tab of this site.
      if (data.mine) asking--;
      if (!asking) consented = data.value;
      if (!consented) copies.clear();
    } else if (data.t === 'reply') {
      const waiter = waiting.get(data.n);
      waiting.delete(data.n);
      if (waiter) data.error ? waiter.reject(new Error(data.error)) : waiter.resolve(data.value);
    } else {
      const { t, ...detail } = data;
      if (detail.envelope) copies.delete(detail.envelope);
      emit(t, detail); // sent, drop, error
    }
  };

  /** Sends the copies not on their way yet with keepalive, within Chromium's 64 KiB for such bodies. */
  const keep = () => {
    const sent = [];
    for (const [id, [count, bytes, url, headers, body]] of copies) {
      if (sending.get(id) >= count || sendingBytes + bytes > 60_000) continue;
      sending.set(id, count);
      sendingBytes += bytes;
      sent.push([id, count]);
      const answer = (/** @type {boolean} */ ok) => {
        sendingBytes -= bytes;
        if (sending.get(id) === count) sending.delete(id);
        post({ t: 'kept', id, count, ok });
      };
      fetch(url, { method: 'POST', headers, body, keepalive: true }).then((r) => answer(r.ok), () => answer(false));
    }
    post({ t: 'hide', sent });
  };
  const hide = () => {
    hidden = true;
    send();
    keep();
  };
  // On the window (the page's markup cannot shadow its methods), capturing: the document's events pass it first.
  /** @param {string} type @param {() => void} listener */
  const on = (type, listener) => w.addEventListener(type, listener, true);
  on('visibilitychange', () => (doc('visibilityState') === 'hidden' ? hide() : ((hidden = false), post({ t: 'show' }))));
  on('pagehide', hide);
  on('freeze', hide);
  post({ t: 'init', base, gpc: /** @type {any} */ (navigator).globalPrivacyControl === true });

  w.putonly = api;
  // Calls made through the snippet's stub before this script loaded, in order, with their own times; and
  // those made later through one of its methods a page kept (const {track} = putonly), as they come.
  const replay = (/** @type {[string, any[], number]} */ [name, args, ts]) => {
    try {
      name === 'track' ? record(args[0], args[1], args[2], now(ts)) : api[name](...args);
    } catch (err) {
      emit('error', { ids: [], message: /** @type {Error} */ (err).message });
    }
  };
  if (stub && stub.q) {
    // By index: a call made during the replay through a kept stub method joins the end, and is replayed too.
    for (let i = 0; i < stub.q.length; i++) replay(stub.q[i]);
    stub.q.push = replay;
  }
  // After the replay, so listeners added through the stub hear it too.
  if (!worker) emit('error', { ids: [], message: dead });
})();
