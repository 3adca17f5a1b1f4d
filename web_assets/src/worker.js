// The PutOnly worker: keeps every event in an IndexedDB outbox, packs events into envelopes, and writes
// each envelope with one signed PutItem until DynamoDB has it. Started by the loader from a Blob.
//
// The end of a visit: a dedicated worker dies with its page, and its requests with it. So the worker keeps
// signed copies of what is not yet confirmed in the loader (``copies``), which sends them itself with
// fetch(keepalive) when the page is hidden or goes away; such requests outlive the page.
import { ID, call, guestCredentials, signPutItem } from './aws.js';
import { createPacker, newId, overflow, seal, split, toItem } from './envelope.js';
import { backoff, classify, serverTime } from './retry.js';
import { all, choice, clear, meta, openOutbox, write } from './store.js';
import { SUBJECT_MAX, TOPIC_PATTERN, utf8Length } from './validate.js';

const MAX_IN_FLIGHT = 4;
const DRAIN_EVERY_MS = 5_000;
const FLUSH_TIMEOUT_MS = 60_000;
/** Chromium lets a page have 64 KiB of keepalive request bodies in flight; copies are signed within this. */
const KEEPALIVE_BUDGET = 60_000;
/** How soon after a change the loader's copies are brought up to date (well within 100 ms of track()). */
const COPY_DELAY_MS = 20;
/** Signatures are valid for 15 minutes: copies are signed again well before. */
const COPY_MAX_AGE_MS = 5 * 60_000;
/** While hidden, a new envelope waits this long for the loader's keepalive copy to be answered. */
const HANDOFF_MS = 5_000;
const LOCK_PREFIX = 'putonly-owner:';
// Messages for the page; report() and reply() put 'putonly: ' in front.
const CONSENT_OFF = 'tracking is off (no consent)';
// Property names that end in _ are this bundle's own (never stored, never in a message): esbuild shortens them.

/**
 * @typedef {import('./envelope.js').Envelope & {owner: string, skew?: number, attempt_?: number, refreshes_?: number, warned_?: boolean, strikes_?: number, mark_?: number, timer_?: any}} Stored
 *   an envelope of this worker's; timer_: it waits out a backoff or a keepalive copy's answer (a timer whose envelope is
 *   no longer ``mine`` when it fires does nothing)
 * @typedef {import('./envelope.js').Event & {owner: string}} Loose
 * @typedef {{lost_: number, why_: string}} Losses how many events were lost, and the first one's story
 * @typedef {Losses & {n: number, ids: Set<string>, timer_: any}} Waiter a flush() call waiting for its events
 * @typedef {[count: number, at: number, creds: object, skew: number, bytes: number]} Held a copy the loader holds
 */

const owner = newId();
/** Set once the outbox is open. @type {unknown} */
let outbox;
/** @type {any} */
let config;
/** @type {ReturnType<typeof createPacker>} */
let packer;
/** @type {ReturnType<typeof guestCredentials>} */
let credentials;
let consent = true;
/** Bumped when consent is withdrawn: work begun before then is abandoned when it resumes. */
let epoch = 0;
/** Serializes outbox writes so they land in the order they were made. */
let chain = /** @type {Promise<unknown>} */ (Promise.resolve());
/** Envelopes to send. Entries that went stale (confirmed, dropped, split or forgotten: no longer ``mine``) are skipped. @type {Stored[]} */
const queue = [];
/** Envelopes being sent by this worker. @type {Set<Stored>} */
const inFlight = new Set();
/** How many envelopes this worker has had confirmed. */
let delivered = 0;
/** This worker's envelopes that DynamoDB has not confirmed yet, by id (queued, in flight or waiting). @type {Map<string, Stored>} */
const mine = new Map();
/** Ids of this page's events not yet stored or dropped, for flush(). */
const pending = new Set();
/** @type {Set<Waiter>} */
const flushes = new Set();
/** @returns {Losses} */
const noLosses = () => ({ lost_: 0, why_: '' });
/** This page's events lost while no flush() waited for them: the next flush() rejects with them. */
let unreported = noLosses();
/** Opens the way for messages (once the outbox is open, or known to stay shut). @type {(value?: unknown) => void} */
let release;
/** Messages are handled in order, one after another; none before release(). @type {Promise<unknown>} */
let inbox = new Promise((resolve) => (release = resolve));
/** Why the worker could not start (no IndexedDB, no Web Locks); then every call fails with it. */
let broken = '';
let lastError = '';
let dueTimer = 0;
/** How far the device's clock is behind the server's, learnt from refused signatures. */
let skew = 0;
const now = () => Date.now() + skew;
// An envelope's times and key are in the clock it was given when its group opened (its ``skew``, kept with it
// in the outbox), whoever signs it: two workers learn the server's time a second apart, and keys made from their
// own would differ, storing the events twice. Its signatures are dated in that clock too (but see dated()), so
// while the clock is wrong every one of them is refused and none stored: then, and only then, it moves to the
// server's (movable()).
const MINUTE = 60_000;
/** Whether an envelope in clock ``c`` can move to the server's clock ``s``: no copy of it in ``c`` can have been
 * stored. DynamoDB refuses a signature dated more than 15 minutes behind it, for good (it only ages), and one more
 * than 15 minutes ahead until it no longer is: a copy the loader holds is at most 5 minutes old (COPY_MAX_AGE_MS).
 * @param {number} c @param {number} s */
const movable = (c, s) => s - c > 15.5 * MINUTE || c - s > 21 * MINUTE;
/** The clock an envelope's signature is dated in: its own, unless that is not the server's (as far as this worker
 * knows) and may not move: then the server's, and its times and key stay as they are. (Not only when more than 15
 * minutes apart: the server's time is learnt to the second, after the reply's delay.) @param {Stored} envelope */
const dated = (envelope, c = envelope.skew || 0) => (c !== skew && !movable(c, skew) ? skew : c);
/** The clock of each open group. @type {Map<string, number>} */
const groupSkew = new Map();
/** @param {string} id */
const skewOf = (id) => (groupSkew.has(id) ? groupSkew : groupSkew.set(id, skew)).get(id);
/** This worker's records in the outbox (loose events by data bytes, envelopes by item bytes): a cheap
 * running estimate that says when to check the bounds; dropOldest recounts exactly. */
let totals = { count: 0, bytes: 0 };
/** Consent is per origin: a change in one tab reaches the workers of the others, as {putonly: 'consent',
 * value: boolean}. Any script of the origin can post on the channel, so nothing else counts. A new name:
 * an older worker still open in another tab coerced any message with Boolean(), and would read ours as true. */
const tabs = new BroadcastChannel('putonly-consent.2');
/** The page is hidden: it may be closed or discarded at any moment, so new envelopes go out at once. */
let hidden = false;

/** @param {object} message */
const post = (message) => self.postMessage(message);
/** Answers the loader's request ``n``; with an ``error``, the request rejects. @param {number} n @param {string} [error] @param {unknown} [value] */
const reply = (n, error, value) => post({ t: 'reply', n, error: error && `putonly: ${error}`, value });
/**
 * Runs ``work`` after the outbox work queued before it. Never rejects: a failure is reported (fault)
 * and gives undefined.
 * @template T @param {() => Promise<T>} work @returns {Promise<T | undefined>}
 */
const serial = (work) => /** @type {Promise<any>} */ ((chain = chain.then(work).catch(fault)));
/** An unexpected failure (IndexedDB refused a write, say): the page hears of it. @param {any} err */
const fault = (err) => report([], err?.message || err);
/** The loader's own words for data over the limit (it only knows the default before config.json). @param {number} bytes */
const overLimit = (bytes) => `data is ${bytes} bytes as JSON; the limit is ${config.maxEventBytes}`;
/** IndexedDB refused to store events (a full disk, say). @param {string[]} ids @param {any} err */
const refused = (ids, err) => report(ids, `the outbox refused ${ids.length} events: ${err.message}`);
/** @param {{id: string}[]} records */
const idsOf = (records) => records.map((r) => r.id);
/** Adds records to this worker's totals (``sign`` -1 takes them off): an envelope counts its events, a loose event one.
 * @param {{bytes: number, count?: number}[]} records */
const weigh = (records, sign = 1) => {
  for (const r of records) (totals.count += sign * (r.count || 1)), (totals.bytes += sign * r.bytes);
};
const full = () => totals.count > config.outboxMaxEvents || totals.bytes > config.outboxMaxBytes;
/** @template {object} T @param {T} record @returns {T & {owner: string}} */
const stamp = (record) => ({ ...record, owner });
/** @param {import('./envelope.js').Event[]} events @param {string} id @returns {Stored} */
const sealed = (events, id) => stamp({ ...seal(events, config, id), skew: skewOf(id) });
/** Adds events to ``into`` in time order (an event older than its group's first opens another), sealing the
 * groups that fill. @param {Loose[]} events */
const pack = (events, into = packer) => {
  for (const event of events.sort((a, b) => a.ts - b.ts)) sealGroups(into.add(event));
};

// The loader's signed copies of what this worker has not confirmed, for the end of the visit: the open
// groups, each stored in the outbox as it is before a copy of it can leave (so a later worker sends that
// envelope under the same key, never its events under another), and the sealed envelopes; oldest first,
// within the keepalive budget. Kept up to date a few ms after every change.
/** What the loader holds, by envelope id. @type {Map<string, Held>} */
let held = new Map();
/** Copies the loader sent with keepalive and that have no answer yet: id -> count. @type {Map<string, number>} */
const sending = new Map();
/** The stored state of each open group, by id. @type {Map<string, Stored>} */
let snapshots = new Map();
/** The timer of the next update of the copies; -1 while one runs. */
let copyTimer = /** @type {any} */ (0);
/** Something changed while an update ran: another one follows. */
let copyAgain = false;

/** Brings the copies up to date shortly: changes come in bursts. */
function soon() {
  if (copyTimer < 0) copyAgain = true;
  else if (!copyTimer && packer) copyTimer = setTimeout(refreshCopies, COPY_DELAY_MS);
}

async function refreshCopies() {
  copyTimer = -1;
  if (consent) await updateCopies().catch(fault);
  copyTimer = 0;
  if (copyAgain) (copyAgain = false), soon();
}

async function updateCopies() {
  const at = epoch;
  // Nothing to copy: no credentials asked for (after reset(), the next event starts the new identity).
  if (!mine.size && !packer.open().length) return void (held.size && clearCopies());
  // No credentials yet: the events wait in the outbox; the next change or tick tries again.
  const creds = await credentials.get().catch(() => {});
  if (!creds) return;
  /** @type {Map<string, Stored>} */
  const open = new Map();
  for (const { id, events } of packer.open()) {
    let envelope = snapshots.get(id);
    if (envelope?.count !== events.length || envelope.skew !== skewOf(id)) {
      envelope = await serial(async () => {
        if (at !== epoch || !packer.open().some((g) => g.id === id)) return; // sealed meanwhile: its envelope is stored
        const snapshot = sealed(events, id);
        await write(snapshot.ids, [snapshot]);
        return snapshot;
      });
      if (at !== epoch) return;
    }
    if (envelope) open.set(id, envelope);
  }
  snapshots = open;
  /** @type {any[]} */
  const put = [];
  /** The copies the loader keeps. @type {Map<string, Held>} */
  const keep = new Map();
  let budget = KEEPALIVE_BUDGET;
  for (const envelope of [...new Map([...open, ...mine]).values()].sort((a, b) => a.first - b.first)) {
    let copy = held.get(envelope.id);
    if (!copy || copy[0] !== envelope.count || copy[2] !== creds || copy[3] !== dated(envelope) || Date.now() - copy[1] > COPY_MAX_AGE_MS) {
      const { url, headers, body } = await sign(envelope, creds);
      if (at !== epoch) return;
      const bytes = utf8Length(body);
      if (bytes > budget) break;
      copy = [envelope.count, Date.now(), creds, dated(envelope), bytes];
      put.push([envelope.id, envelope.count, bytes, url, headers, body]);
    }
    if ((budget -= copy[4]) < 0) break;
    keep.set(envelope.id, copy);
  }
  const drop = [...held.keys()].filter((id) => !keep.has(id));
  held = keep;
  if (put.length || drop.length) post({ t: 'copies', put, drop, g: gen });
}

function clearCopies() {
  post({ t: 'copies', put: [], drop: [...held.keys()], g: gen });
  held.clear();
  sending.clear();
  snapshots.clear();
}

/** @param {any} data */
const receive = (data) => {
  if (data.t === 'consent') {
    chosen = data.value;
    // This page's choice is dated as it arrives (the worker may handle it much later, once its outbox and config are in).
    if (!data.elsewhere_) data.at = lastOwn = Math.max(Date.now(), lastOwn + 1);
  }
  // A request is answered within a minute even when its turn has not come (a first visit whose config.json
  // keeps failing: nothing is handled before the config). The page has been told it failed, so when its turn
  // comes a flush() or identity() is not carried out; a reset() is, as the visitor asked to be forgotten.
  const late = data.n && setTimeout(() => {
    data.late_ = true;
    reply(data.n, `no answer within ${FLUSH_TIMEOUT_MS / 1000} s (last error: ${lastError || 'none'})`);
  }, FLUSH_TIMEOUT_MS);
  inbox = inbox.then(() => (clearTimeout(late), (data.late_ && data.t !== 'reset') || handle(data))).catch(fault);
};
/** Where config.json is, and the URLs the page's Content-Security-Policy refused (each is told once). */
let configUrl = '';
const blocked = new Set();
// A blob worker has the page's CSP. Refused config.json: tracking cannot start on this page (as for CORS);
// refused AWS endpoints: events wait in the outbox for a page that allows them.
self.addEventListener('securitypolicyviolation', ({ blockedURI, effectiveDirective, disposition }) => {
  // A report-only policy refuses nothing.
  if (disposition === 'report' || blocked.has(blockedURI)) return;
  blocked.add(blockedURI);
  const message = `${blockedURI} is refused by the page's Content-Security-Policy (${effectiveDirective})`;
  if (blockedURI === configUrl) post({ t: 'dead', message: `putonly: ${message}` });
  else report([], message);
});
self.onmessage = (/** @type {MessageEvent} */ { data }) => (data.t === 'init' ? start(data.base, data.gpc).catch(fault) : receive(data));
tabs.onmessage = ({ data }) => {
  if (data?.putonly === 'consent' && typeof data.value === 'boolean') receive({ t: 'consent', value: data.value, at: sane(data.at), elsewhere_: true });
  if (data?.putonly === 'reset') receive({ t: 'reset', elsewhere_: true });
};

/** Set once start() has packed the events that arrived before the config. */
let packed = false;
/** A hide or flush() came before that: start() seals what it packs at once. */
let sealSoon = false;

/** Seals every open group once the writes queued before this call are done (hide, pagehide, flush). */
function sealOpen() {
  serial(async () => (packed ? sealGroups(packer.all()) : (sealSoon = true)));
}

/** The latest reset() or consent(false) of this page the worker has handled (the loader counts them): copies sent
 * to the loader carry it, and the loader keeps only those made after the last one it asked for. */
let gen = 0;
/** When the choice in force was made (ms since the epoch), by this page or another tab. */
let chosenAt = 0;
/** When this page's last choice was made: the next is later, even within one millisecond. */
let lastOwn = 0;
/** Whether a choice made at ``at`` is later than one made at ``than`` (off wins a tie: tabs decide alike).
 * @param {number} at @param {boolean} value @param {number} than */
const later = (at, value, than) => at > than || (at === than && !value);
/** A choice's time as given by another tab or the outbox; none (an earlier version's) is now. Never ahead of now:
 * the tabs share this device's clock, and any script of the origin can post on the channel (a time ahead would make
 * the choices made until then older). @param {unknown} at */
const sane = (at) => (Number.isSafeInteger(at) ? Math.min(/** @type {number} */ (at), Date.now()) : Date.now());
/** When the saved choice ([value, time]) was made: 0 for none, 1 for one an earlier version saved (no time: older
 * than any choice made since). @param {any[]} saved */
const savedAt = ([value, at]) => (value === undefined ? 0 : at === undefined ? 1 : sane(at));

/** Answers the loader's request ``n`` with what ``work`` gives once the outbox work before it is done, or with its
 * failure (an outbox that refuses: the request still settles). @param {number} n @param {() => Promise<unknown>} work */
const answer = (n, work) => serial(() => work().then((value) => n && reply(n, '', value), (err) => n && reply(n, err.message || err)));

/** @param {any} data */
function handle(data) {
  const { t, n } = data;
  if (data.g) gen = data.g;
  if (broken) {
    if (t === 'track') report(idsOf(parse(data)), broken);
    else if (n) reply(n, broken);
  } else if (t === 'track') accept(parse(data));
  else if (t === 'hide') {
    hidden = true;
    for (const [id, count] of data.sent) sending.set(id, count);
    sealOpen();
  } else if (t === 'show') hidden = false;
  else if (t === 'kept') {
    // The loader's keepalive copy of ``id`` with ``count`` events was answered.
    const { id, count } = data;
    if (sending.get(id) === count) sending.delete(id);
    const envelope = mine.get(id);
    // Not stored, or not all of it: this worker sends it now if it was waiting for that answer.
    if (envelope) data.ok && count >= envelope.count ? confirm(envelope) : envelope.timer_ && wait(envelope, 0);
  } else if (t === 'flush') flush(n);
  // A choice made on this origin (this page or another tab): start() must not take it back for GPC or "denied".
  // The latest one wins in every tab, whatever order the tabs hear them in: one made before the choice in force is
  // ignored (this page's too: its loader then hears the choice in force).
  else if (t === 'consent') {
    const { at } = data;
    if (!later(at, data.value, chosenAt)) return void (data.elsewhere_ || post({ t: 'consent', value: consent, mine: true }));
    chosenAt = at;
    return setConsent((stored = Boolean(data.value)), !data.elsewhere_, at); // may open the outbox: later messages wait
  } else if (t === 'identity') answer(n, async () => (outbox && (await meta(ID))) ?? null);
  else if (t === 'reset') {
    // Forgets the identity and the outbox: the next event starts a new identity (a new partition). The page
    // hears which of its events are gone (a drop event, no warning: it asked for this). So do the site's other
    // open tabs: one that kept the old identity would store its events under it, and its outbox records, adopted
    // by this tab once it closed, would go under the new one. They forget only their own records and leave the
    // identity to this tab (the new one may be stored by now).
    const here = !data.elsewhere_;
    const cleared = forget('reset() dropped the events not stored yet', 'reset', here);
    // New credentials, of the new identity: ones being fetched now are of the old one (a fetch under way is
    // shared by every caller, and would be used for an hour).
    credentials?.retire();
    if (credentials) credentials = guestCredentials(config, meta, now);
    answer(n, async () => {
      if (outbox && here) {
        // Else the records left would be adopted, and sent under the new identity.
        if (!(await cleared)) throw new Error('reset() could not clear the outbox; call it again');
        await meta(ID, () => undefined);
      }
      // Once the outbox is cleared and the identity gone: a tab that reads it after hearing this gets none.
      if (here) tabs.postMessage({ putonly: 'reset' });
    });
  }
}

/**
 * @param {string} base the URL of the folder the loader came from
 * @param {boolean} gpc the page's navigator.globalPrivacyControl (workers do not always expose it)
 */
async function start(base, gpc) {
  // A returning visitor has an outbox: it opens at once, so events of the first moments are kept. A first visit
  // waits for config.json: with Global Privacy Control or consentDefault "denied", nothing may be stored, not
  // even the database, until consent(true). So does a returning visitor with GPC who made no choice here:
  // config.json says whether GPC counts.
  const known = await indexedDB.databases().then((dbs) => dbs.some((db) => db.name === 'putonly'), () => true);
  if (known) await openStore(gpc);
  config = await fetchConfig(base);
  const optOut = (gpc && config.honorGlobalPrivacyControl !== false) || config.consentDefault === 'denied';
  if (!known) {
    if (optOut) consent = false;
    else await openStore();
  } else if (optOut && stored === undefined && consent) {
    // No choice made here yet: off. But one on its way (this page's consent(), or another tab's) then stands: the
    // events before it are not kept, the outbox is not cleared.
    if (chosen === undefined) setConsent(false, false);
    else consent = false;
  }
  release();
  if (broken) return report([], broken);
  post({ t: 'ready', consent, maxEventBytes: config.maxEventBytes });
  if (outbox) await run();
}

/** The consent the visitor chose on this origin, if any (read when the outbox opens). @type {boolean | undefined} */
let stored;

/** A consent() choice (this page's, or another tab's) waiting to be handled while config.json is on its way.
 * @type {boolean | undefined} */
let chosen;

/**
 * Opens the outbox and takes this worker's lock; then handles the messages that waited for it, unless ``hold``
 * (Global Privacy Control): then only once a choice made here says what to do, else start() does.
 */
async function openStore(hold = false) {
  try {
    outbox = await openOutbox();
    // Held until this worker ends: other tabs see our records are owned by a live worker.
    await new Promise((granted) => navigator.locks.request(LOCK_PREFIX + owner, () => (granted(0), new Promise(() => {}))));
    // The choice saved on this origin, unless a later one was made while the outbox opened (consent(true) on a
    // first visit with Global Privacy Control or consentDefault "denied" opens it). Earlier versions saved no time.
    const saved = await choice();
    const [value] = saved;
    const when = savedAt(saved);
    if (!chosenAt || later(when, value, chosenAt)) {
      (stored = value), (chosenAt = when), (consent = value !== false);
      // The page hears at once (a returning visitor's outbox opens before config.json is in): from now on its
      // track() returns null rather than ids of events the worker will drop.
      if (!consent) post({ t: 'consent', value: false });
    }
  } catch (err) {
    broken = `cannot start, events are not kept: ${/** @type {Error} */ (err).message || err}`;
  }
  if (!hold || stored !== undefined) release();
}

/** Starts packing, signing and sending (once there are a config and an outbox), once. */
async function run() {
  if (packer || broken) return;
  packer = createPacker(config);
  credentials = guestCredentials(config, meta, now);
  // Events stored before the config arrived join the packer now, if they are within its limit.
  const at = epoch;
  await serial(async () => {
    try {
      const [events] = await all(owner);
      if (at !== epoch) return;
      const tooBig = events.filter((e) => e.bytes > config.maxEventBytes);
      await write(idsOf(tooBig));
      weigh(tooBig, -1);
      for (const e of tooBig) report([e.id], overLimit(e.bytes));
      if (at !== epoch) return;
      pack(events.filter((e) => e.bytes <= config.maxEventBytes));
      if (sealSoon || hidden) sealGroups(packer.all());
      soon();
    } finally {
      packed = true;
    }
  });
  const tick = () => {
    drain().catch(fault);
    pump(); // also after a reconnect: not every browser fires "online" in workers
    soon(); // signatures age, credentials are renewed
  };
  tick();
  setInterval(tick, DRAIN_EVERY_MS);
  self.ononline = tick;
  schedule();
}

/** @param {string} base */
async function fetchConfig(base) {
  const url = (configUrl = new URL('config.json', base).href);
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(url, { cache: 'no-cache' });
      if (response.ok) return await response.json();
      lastError = `config.json: HTTP ${response.status}`;
    } catch (err) {
      lastError = `config.json: ${/** @type {Error} */ (err).message}`;
      // A CORS refusal looks like a network error; a no-cors request for the same URL tells them apart.
      if (await fetch(url, { mode: 'no-cors', cache: 'no-cache' }).then(() => true, () => false)) {
        post({ t: 'dead', message: `putonly: ${url} refuses this page's origin ${self.origin} (CORS): add it to corsOrigins` });
        return new Promise(() => {}); // tracking is off on this page; its events stay in the outbox
      }
    }
    await new Promise((resume) => setTimeout(resume, backoff(attempt)));
    if (blocked.has(url)) return new Promise(() => {}); // the page's CSP refuses it: retrying cannot help
  }
}

/** The loader's batch: six fields per event, each followed by a tab; times in ms after ``since``. @param {{lines: string, since: number}} batch */
function parse({ lines, since }) {
  const fields = lines.split('\t');
  const events = [];
  for (let i = 0; i + 5 < fields.length; i += 6) {
    const [id, ts, topic, subject, bytes, json] = fields.slice(i, i + 6);
    events.push({ id, ts: since + +ts, topic, subject, bytes: +bytes, json });
  }
  return events;
}

/** Events from the loader: checked again, stored, then packed. @param {import('./envelope.js').Event[]} events */
function accept(events) {
  // Tracking is off (the loader had not heard yet, or another tab withdrew meanwhile): nothing is kept, and the
  // page hears which of its events are gone.
  if (!consent) return post({ t: 'drop', ids: idsOf(events), reason: 'consent' });
  /** @type {Loose[]} */
  const valid = [];
  for (const event of events) {
    pending.add(event.id);
    // The loader validated this already; a cheap second look guards against messages that bypassed it.
    // (A line with fewer fields has no subject.)
    const bad = !TOPIC_PATTERN.test(event.topic) || !(event.subject?.length <= SUBJECT_MAX) || !(event.ts > 0 && event.ts % 1 === 0)
      ? 'malformed event'
      : config && event.bytes > config.maxEventBytes && overLimit(event.bytes);
    if (bad) report([event.id], bad);
    else valid.push(stamp(event));
  }
  if (!valid.length) return;
  weigh(valid);
  const packNow = Boolean(packer); // otherwise start() packs them from the outbox once the config is in
  const at = epoch;
  serial(async () => {
    try {
      await write([], valid);
    } catch (err) {
      if (at === epoch) weigh(valid, -1);
      return refused(idsOf(valid), err);
    }
    if (packNow && at === epoch) {
      pack(valid);
      if (hidden) sealGroups(packer.all());
      soon();
    }
    schedule();
  });
  if (packNow && full()) {
    sealGroups(packer.all());
    serial(dropOldest);
  }
}

/** Seals groups of events into envelopes (persisted before their first send). @param {import('./envelope.js').Group[]} groups */
function sealGroups(groups) {
  const at = epoch;
  for (const { id, events } of groups) {
    const envelope = sealed(events, id);
    groupSkew.delete(id);
    serial(async () => {
      if (at !== epoch) return;
      try {
        await write(envelope.ids, [envelope]);
      } catch (err) {
        return refused(envelope.ids, err); // they stay loose in the outbox: a later worker adopts them
      }
      if (at !== epoch) return; // consent withdrawn meanwhile: the outbox is being cleared
      weigh([envelope]);
      weigh(events, -1);
      own(envelope);
    });
  }
}

/** Takes charge of an envelope (sealed, adopted or split off): it is sent until DynamoDB confirms it. @param {Stored} envelope */
function own(envelope) {
  if (!consent) return;
  mine.set(envelope.id, envelope);
  soon();
  // A hidden page may be closed or discarded at any moment: the loader's keepalive copy goes first.
  if (hidden) wait(envelope, HANDOFF_MS);
  else enqueue(envelope);
}

/** Queues an envelope for sending, unless it was confirmed meanwhile. @param {Stored} envelope */
function enqueue(envelope) {
  if (!mine.has(envelope.id)) return;
  queue.push(envelope);
  pump();
}

/** Queues ``envelope`` again after ``ms`` (a backoff, or a keepalive copy's answer). @param {Stored} envelope @param {number} ms */
function wait(envelope, ms) {
  clearTimeout(envelope.timer_);
  envelope.timer_ = setTimeout(() => {
    envelope.timer_ = 0;
    enqueue(envelope);
  }, ms);
}

function pump() {
  while (inFlight.size < MAX_IN_FLIGHT && queue.length && navigator.onLine) {
    const envelope = /** @type {Stored} */ (queue.shift());
    // Stale (confirmed, dropped or split since it was queued), or on its way already.
    if (mine.get(envelope.id) !== envelope || inFlight.has(envelope)) continue;
    // The loader's keepalive copy carries all of it: its answer decides.
    if (/** @type {number} */ (sending.get(envelope.id)) >= envelope.count) { // (none: undefined >= n is false)
      wait(envelope, HANDOFF_MS);
      continue;
    }
    inFlight.add(envelope);
    deliver(envelope)
      .catch(fault)
      .finally(() => {
        inFlight.delete(envelope);
        pump();
      });
  }
}

/** One attempt to write ``envelope``; decides what happens next from the reply. @param {Stored} envelope */
async function deliver(envelope) {
  const at = epoch;
  /** @type {import('./aws.js').Reply} */
  let reply;
  try {
    const { url, ...init } = await sign(envelope, await credentials.get());
    if (at !== epoch) return; // consent withdrawn while credentials came: send nothing more
    reply = await call(fetch, url, init);
  } catch (err) {
    reply = /** @type {any} */ (err).reply || { message: /** @type {Error} */ (err).message };
  }
  const outcome = classify(reply);
  if (outcome === 'ok') return confirm(envelope);
  const { status = 0, message } = reply;
  lastError = status ? `${status} ${message || ''}`.trim() : `network error: ${message}`;
  if (at !== epoch) return; // consent withdrawn meanwhile: the outbox is empty now
  // A wrong device clock: sign in the server's time from now on. This envelope was refused for its clock; if no
  // copy of it in that clock can be stored (movable()), it moves to the server's (in the outbox first, for a worker
  // that adopts it), as do open groups.
  const server = outcome === 'refresh' && serverTime(message);
  if (server) {
    skew = server - Date.now();
    for (const [id, clock] of groupSkew) if (movable(clock, skew)) groupSkew.set(id, skew);
    const to = skew; // (another refusal may set skew again while this one is written)
    if (movable(envelope.skew || 0, to)) {
      // The stored record first (without this worker's own state of the envelope): a worker that adopts it signs
      // in the same clock. If the outbox refuses, the envelope keeps its clock and is tried again later.
      const { attempt_, refreshes_, warned_, strikes_, mark_, timer_, ...record } = envelope;
      const moved = await serial(async () => at === epoch && mine.get(envelope.id) === envelope && (await write([], [{ ...record, skew: to }]), true));
      if (!moved) return void (at === epoch && mine.get(envelope.id) === envelope && wait(envelope, backoff((envelope.attempt_ = (envelope.attempt_ || 0) + 1) - 1)));
      envelope.skew = to;
    }
    soon();
  }
  if (outcome === 'refresh' && (envelope.refreshes_ = (envelope.refreshes_ || 0) + 1) < 3) {
    credentials.invalidate();
    queue.unshift(envelope);
  } else if (
    outcome === 'invalid' ||
    // Refused three more times (5xx or an unexpected error, not throttling or the network) after other envelopes
    // were stored since its first refusal: refused for something it holds, so split like an invalid one (one event
    // that can never be stored cannot hold every later flush() hostage). An outage refuses everything: no split.
    ((status > 499 || outcome === 'fatal') &&
      delivered > (envelope.mark_ ??= delivered) &&
      (envelope.strikes_ = (envelope.strikes_ || 0) + 1) > 2)
  ) {
    await reject(envelope, message || lastError);
  } else {
    // Network errors, 5xx, throttling, and anything unexpected: the events stay in the outbox.
    if (outcome === 'fatal' && !envelope.warned_ && (envelope.warned_ = true)) report([], `DynamoDB refused an envelope: ${lastError}; retrying later`);
    const attempt = envelope.attempt_ || 0;
    envelope.attempt_ = attempt + 1;
    wait(envelope, navigator.onLine ? backoff(attempt) : 0);
  }
}

/** DynamoDB has the envelope (from this worker, or the loader's keepalive copy): done with it. @param {Stored} envelope */
async function confirm(envelope) {
  if (mine.get(envelope.id) !== envelope) return; // confirmed already (both copies landed)
  mine.delete(envelope.id); // its retry timer, if any, finds it gone
  delivered++;
  soon();
  // The page hears of its events before a flush() waiting for them settles.
  post({ t: 'sent', ids: envelope.ids, envelope: envelope.id, topic: envelope.topic, subject: envelope.subject });
  settle(envelope.ids);
  const at = epoch;
  await serial(() => write([envelope.id]));
  if (at === epoch) weigh([envelope], -1);
}

/** The envelope's PutItem, signed now. @param {Stored} envelope @param {import('./aws.js').Credentials} creds */
function sign(envelope, creds) {
  // Times and key in the envelope's own clock; the signature dated as dated() says.
  const clock = envelope.skew || 0; // (0 in envelopes stored by earlier versions)
  const item = toItem(envelope, creds.identityId, config.indexShards, clock);
  return signPutItem(config, creds, item, new Date(Date.now() + dated(envelope)).toISOString().replace(/[:-]|\.\d{3}/g, ''));
}

/** DynamoDB refused the envelope as invalid: split until the bad event is alone, then drop only it. */
async function reject(/** @type {Stored} */ envelope, /** @type {string} */ reason) {
  const at = epoch;
  const halves = envelope.count > 1 ? split(envelope, config).map((half) => stamp({ ...half, skew: envelope.skew })) : [];
  const replaced = await serial(async () => at === epoch && (await write([envelope.id], halves), true));
  if (!replaced) return; // consent withdrawn, or the outbox refused: the envelope stays for a later worker
  mine.delete(envelope.id);
  soon();
  weigh(halves);
  weigh([envelope], -1);
  if (!halves.length) report(envelope.ids, `DynamoDB rejected event ${envelope.ids[0]}: ${reason}`);
  halves.forEach(own);
}

/** Envelopes left by workers that are gone (closed tabs, earlier page loads): adopted, each gone worker's by one tab. */
async function drain() {
  const at = epoch;
  if (!consent || !config) return;
  // One tab at a time reads the outbox for this (a big offline backlog is not read by every tab every tick).
  await navigator.locks.request('putonly-drain', { ifAvailable: true }, async (drainer) => {
    // Records first, then who is alive: a worker that wrote any of them took its lock before it did, and holds it
    // while it lives. A gone worker's lock is free: the tab that takes it adopts the records.
    for (const other of drainer ? new Set((await all()).flat().map((r) => r.owner)) : []) {
      // Within this worker's bounds: adopting more would only drop what is about to go out.
      if (at !== epoch || full()) return;
      if (other !== owner) {
        await navigator.locks.request(LOCK_PREFIX + other, { ifAvailable: true }, async (lock) => {
          const adopted = lock && (await serial(() => all(other, owner)));
          if (!adopted || at !== epoch) return;
          const [loose, envelopes] = adopted;
          weigh(adopted.flat());
          envelopes.forEach(own);
          const packer = createPacker(config);
          pack(loose, packer);
          sealGroups(packer.all());
        });
      }
    }
  });
}

/** Past the outbox bounds, this worker's oldest envelopes are dropped (and reported) to make room. */
async function dropOldest() {
  const at = epoch;
  const [events, envelopes] = await all(owner);
  if (at !== epoch) return;
  totals = { count: 0, bytes: 0 };
  weigh([...events, ...envelopes]); // exact
  // Never one in flight, nor the stored copy of a group still open (it is sealed and sent later).
  const busy = new Set(idsOf([...inFlight, ...packer.open()]));
  const dropped = overflow(envelopes, totals, config, busy);
  if (!dropped.length) return;
  // No longer mine: their retry timers pass them by, and they leave the queue (offline, pump() does not run, and
  // the queue would hold on to every envelope past the outbox bounds).
  for (const e of dropped) mine.delete(e.id);
  let kept = 0;
  for (const e of queue) if (mine.get(e.id) === e) queue[kept++] = e;
  queue.length = kept;
  soon();
  await write(idsOf(dropped));
  const ids = dropped.flatMap((e) => e.ids);
  post({ t: 'drop', ids, reason: 'outbox-full', message: `putonly: outbox full: ${ids.length} oldest events dropped` });
  settle(ids, 'outbox full: oldest events dropped');
}

/** Tells the page (an ``error`` event), then flush(), of lost events, or of a failure (``ids`` empty). @param {string[]} ids @param {string} message */
function report(ids, message) {
  lastError = message;
  post({ t: 'error', ids, message: `putonly: ${message}` });
  settle(ids, message);
}

/** Marks events as done for flush(); ``failure`` when they were dropped. @param {string[]} ids @param {string} [failure] */
function settle(ids, failure) {
  for (const id of ids) {
    // Lost while no flush() waited for it: the next one hears of it.
    /** @type {unknown} */
    let untold = pending.delete(id) && failure;
    for (const waiter of flushes) if (waiter.ids.delete(id) && failure) untold = lose(waiter, id, failure);
    if (untold) lose(unreported, id, /** @type {string} */ (failure));
  }
  for (const waiter of flushes) {
    if (!waiter.ids.size) endFlush(waiter, waiter.lost_ ? `${waiter.lost_} events were dropped: ${waiter.why_}` : undefined);
  }
}

/** Counts a lost event, keeping the first one's story. @param {Losses} losses @param {string} id @param {string} failure */
function lose(losses, id, failure) {
  if (!losses.lost_++) losses.why_ = `${id}: ${failure}`;
}

/** @param {number} n */
function flush(n) {
  if (!consent) return reply(n, CONSENT_OFF);
  /** @type {Waiter} */
  const waiter = { n, ids: new Set(pending), ...unreported, timer_: 0 };
  unreported = noLosses();
  flushes.add(waiter);
  if (!waiter.ids.size) return settle([]);
  sealOpen();
  pump();
  if (!navigator.onLine) {
    return endFlush(waiter, `offline; ${waiter.ids.size} events wait in the outbox until online`);
  }
  waiter.timer_ = setTimeout(
    () => endFlush(waiter, `${waiter.ids.size} events not stored within ${FLUSH_TIMEOUT_MS / 1000} s (last error: ${lastError || 'none'}); they wait in the outbox`),
    FLUSH_TIMEOUT_MS,
  );
}

/** Ends a flush() call: resolves it, or rejects it with ``error``. @param {Waiter} waiter @param {string} [error] */
function endFlush(waiter, error) {
  clearTimeout(waiter.timer_);
  if (flushes.delete(waiter)) reply(waiter.n, error); // else settled already
}

/**
 * Takes effect at once, in message order; the outbox is cleared in order with other writes.
 * @param {boolean} value
 * @param {boolean} here made on this page (then saved, and told to the other tabs)
 * @param {number} [at] when the visitor made this choice (here or in another tab); none for start()'s decision
 *   from Global Privacy Control or consentDefault
 */
function setConsent(value, here, at) {
  consent = value;
  // Also when the page chose: its loader then ends where this worker does, whatever order the tabs spoke in.
  post({ t: 'consent', value, mine: here });
  // Told to the other tabs at once, and again once saved if still in force: a tab that opens in between reads it,
  // or hears it. Saved by every tab that has an outbox (the tab that chose may be gone before it could), unless a
  // later one is saved already (tabs save in any order); a withdrawal clears the outbox in that same transaction.
  const tell = () => here && tabs.postMessage({ putonly: 'consent', value, at });
  const save = () =>
    outbox &&
    at !== undefined &&
    serial(async () => {
      try {
        const made = /** @type {number} */ (at);
        await choice((saved) => (later(made, value, savedAt(saved)) ? [value, made] : undefined));
      } finally {
        if (at === chosenAt) tell();
      }
    });
  tell();
  if (value && !outbox && !broken) {
    // Consent given where nothing was stored (Global Privacy Control, consentDefault "denied"): the outbox opens
    // now; the messages after this one wait for it.
    const opened = openStore();
    opened.then(async () => {
      await save();
      if (config && consent) await run();
    });
    return opened;
  }
  // A withdrawal: saved first (with it the whole outbox goes, unless a later choice is saved already: then records
  // written since, after a consent(true), are kept); this tab drops what it holds, and its own records go.
  // start()'s decision from Global Privacy Control or consentDefault clears the whole outbox.
  save();
  if (!value) forget(CONSENT_OFF, 'consent', at === undefined);
}

/**
 * Drops everything this worker holds and clears the outbox (consent withdrawn, reset()). The page hears which of
 * its events are gone (a drop event with ``reason``, no warning: the visitor or the page chose this).
 * @param {string} why what a waiting flush() rejects with @param {string} reason
 * @param {boolean} [everyones] the whole outbox, else only this worker's records (a reset() or a withdrawal in
 *   another tab, which cleared it already: records stored since are of a new identity, or a new consent)
 * @returns {Promise<unknown> | undefined} true once the outbox is cleared (undefined: it refused)
 */
function forget(why, reason, everyones = true) {
  const ids = [...pending];
  if (ids.length) post({ t: 'drop', ids, reason });
  epoch++;
  packer?.clear();
  groupSkew.clear();
  clearCopies();
  mine.clear(); // retry timers that fire later find nothing to send
  queue.length = 0;
  pending.clear();
  unreported = noLosses();
  totals = { count: 0, bytes: 0 };
  for (const waiter of flushes) endFlush(waiter, why);
  if (outbox) return serial(async () => (await (everyones ? clear() : write(idsOf((await all(owner)).flat()))), true));
}

/** One timer for the next group that reaches maxDelaySeconds. */
function schedule() {
  clearTimeout(dueTimer);
  const wait = /** @type {number} */ (packer?.nextDueIn()); // (none yet: undefined >= 0 is false)
  if (wait >= 0) {
    dueTimer = setTimeout(() => {
      sealGroups(packer.due());
      schedule();
    }, wait);
  }
}
