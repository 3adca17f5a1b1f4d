// Envelopes: events sharing topic+subject packed into one DynamoDB item, and the size accounting
// that keeps each item under its byte bound and uses whole write units (1 KB each) well.
import { utf8Length } from './validate.js';

export const SCHEMA_VERSION = 1;
const WRITE_UNIT = 1024;
// Identity ids are "<region>:" + a UUID; sizes are computed with one of that length (only its length counts):
// 46 characters in us-east-1, 51 in ap-southeast-2.
const UUID_LENGTH = 36;

/**
 * A new id for an envelope or a worker: 16 base64url characters, 96 random bits, as ids.js makes for events. The
 * worker's own: its crypto is out of the page's reach, and it needs a few ids, not one per track().
 */
export const newId = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(12)))).replace(/\+/g, '-').replace(/\//g, '_');

/**
 * @typedef {{id: string, ts: number, topic: string, subject: string, json: string, bytes: number}} Event
 * @typedef {{id: string, topic: string, subject: string, ids: string[], count: number, first: number, last: number, events: string, sk: string, expiresAt: number, bytes: number}} Envelope
 * @typedef {{envelopeMaxBytes: number, envelopeMaxEvents: number, maxDelaySeconds: number, retentionDays: number, region?: string}} Limits
 * @typedef {{id: string, events: Event[]}} Group events that will share one envelope, and that envelope's id
 */

/** An envelope's sort key: the time of its first event, and its id. @param {number} time @param {string} id */
const key = (time, id) => `${new Date(time).toISOString()}#${id}`;

/**
 * Bytes one event adds to an envelope's ``events`` attribute: ,["<id>",<dt>,<data>]
 * @param {Event} event
 * @param {number} first time of the envelope's first event (an older event opens a new envelope; its entry here
 *   is not used)
 */
export function entryBytes(event, first) {
  return event.id.length + event.bytes + 7 + String(event.ts - first).length;
}

/** DynamoDB's size of a number (an item's are positive integers): one byte per two significant digits, plus one. */
export const numberSize = (/** @type {number | string} */ n) => Math.ceil(String(n).replace(/0+$/, '').length / 2) + 1;

/**
 * DynamoDB item size: attribute names plus values (strings as UTF-8, numbers as above).
 * @param {Record<string, {S?: string, N?: string}>} item
 */
export function itemSize(item) {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    size += name.length + ('S' in value ? utf8Length(/** @type {string} */ (value.S)) : numberSize(/** @type {string} */ (value.N)));
  }
  return size;
}

/** Write units DynamoDB charges for a put of an item of ``bytes``. */
export function writeUnits(/** @type {number} */ bytes) {
  return Math.max(1, Math.ceil(bytes / WRITE_UNIT));
}

/**
 * Seals ``events`` (all one topic+subject) into an envelope. Encoding is compact: each event is
 * [id, ms after the envelope's first event, data], and topic, subject and times are said once.
 * @param {Event[]} events
 * @param {Limits} limits
 * @returns {Envelope}
 */
export function seal(events, limits, id = newId()) {
  const sorted = [...events].sort((a, b) => a.ts - b.ts);
  const [{ ts: first, topic, subject }] = sorted;
  const envelope = {
    id,
    topic,
    subject,
    ids: sorted.map((e) => e.id),
    count: sorted.length,
    first,
    last: sorted[sorted.length - 1].ts,
    events: `[${sorted.map((e) => `["${e.id}",${e.ts - first},${e.json}]`)}]`,
    sk: key(first, id),
    expiresAt: limits.retentionDays > 0 ? Math.floor(first / 1000) + limits.retentionDays * 86400 : 0,
    bytes: 0,
  };
  envelope.bytes = itemSize(toItem(envelope, '-'.repeat((limits.region || 'us-east-1').length + 1 + UUID_LENGTH)));
  return envelope;
}

/**
 * The visitor's shard of every by_subject index key, so that no subject, nor a topic's subject-less envelopes,
 * becomes one hot index partition. cdk_app/envelope.py's index_shard computes the same.
 * @param {string} identityId
 * @param {number} shards
 */
export const indexShard = (identityId, shards) => {
  let h = 0;
  for (const c of identityId) h = Math.imul(h ^ /** @type {number} */ (c.codePointAt(0)), 0x9e3779b1);
  return Math.floor(((h >>> 0) * shards) / 2 ** 32);
};

/**
 * The DynamoDB item for ``envelope`` in ``identityId``'s partition: the same bytes on every retry.
 * @param {Envelope} envelope
 * @param {string} identityId
 * @param {number} [shards] indexShards from config.json
 * @param {number} [skew] ms to add to the device's times (server clock minus device clock, once known)
 */
export function toItem(envelope, identityId, shards = 1, skew = 0) {
  const { id, topic, subject, first, expiresAt } = envelope;
  const sk = { S: skew ? key(first + skew, id) : envelope.sk };
  /** @param {number} n */
  const N = (n) => ({ N: `${n}` });
  /** @type {Record<string, {S: string} | {N: string}>} */
  const item = {
    pk: { S: identityId },
    sk,
    topic: { S: topic },
    events: { S: envelope.events },
    count: N(envelope.count),
    first_ts: N(first + skew),
    last_ts: N(envelope.last + skew),
    v: N(SCHEMA_VERSION),
    gsi1pk: { S: `${topic}#${subject}#${indexShard(identityId, shards)}` },
    gsi1sk: sk,
  };
  if (subject) item.subject = { S: subject };
  if (expiresAt) item.expires_at = N(expiresAt + Math.round(skew / 1000));
  return item;
}

/**
 * Splits an envelope DynamoDB refused in two halves, to isolate a bad event. The first half keeps the
 * envelope's id and key (a signed copy of an earlier, smaller version may have been stored under it by a
 * keepalive request; the half that keeps the key overwrites it), the second gets a new id.
 * @param {Envelope} envelope
 * @param {Limits} limits
 * @returns {Envelope[]}
 */
export function split(envelope, limits) {
  // Events as seal() reads them (topic, subject, id, ts and json, nothing else): the envelope's topic and
  // subject, and each event's id, time and data.
  const events = JSON.parse(envelope.events).map((/** @type {[string, number, unknown]} */ [id, dt, data]) => ({
    ...envelope,
    id,
    ts: envelope.first + dt,
    json: JSON.stringify(data),
  }));
  const half = Math.ceil(events.length / 2);
  return [seal(events.slice(0, half), limits, envelope.id), seal(events.slice(half), limits)];
}

/**
 * Groups open events by topic+subject and decides when a group becomes an envelope: when it is full
 * (bytes or count), when it has filled whole write units so that one more event would mostly pay for
 * an empty unit, or when its oldest event has waited ``maxDelaySeconds``. A group gets its envelope id
 * when it opens: signed copies of it may be sent (keepalive at the end of a visit) before it is sealed,
 * so the envelope's key must not change as it grows. For the same reason an event older than the group's
 * first starts a new group (the key holds the first event's time); so does one ``maxDelaySeconds`` or more after
 * it (events of an outbox read at once may be hours apart): a reader that selects by time finds every event of
 * an envelope whose key is at most that much (an hour) before the time it asks for.
 * @param {Limits} limits
 * @param {() => number} now
 */
export function createPacker(limits, now = Date.now) {
  const { envelopeMaxBytes, envelopeMaxEvents, maxDelaySeconds } = limits;
  const minSealBytes = Math.min(4 * WRITE_UNIT, envelopeMaxBytes);
  /** @type {Map<string, Group & {bytes: number, first: number, opened_: number}>} */
  const groups = new Map();

  /** Removes and returns the groups that pass ``test``. @param {(group: {opened_: number}) => unknown} test @returns {Group[]} */
  const take = (test) => [...groups].filter(([key, group]) => test(group) && groups.delete(key)).map(([, group]) => group);

  return {
    /**
     * Adds an event; returns the groups that are now ready to seal.
     * @param {Event} event
     * @returns {Group[]}
     */
    add(event) {
      const key = `${event.topic}#${event.subject}`;
      const ready = [];
      let group = groups.get(key);
      let entry = group ? entryBytes(event, group.first) : 0;
      if (group && (group.bytes + entry > envelopeMaxBytes || event.ts < group.first || event.ts - group.first >= maxDelaySeconds * 1000)) {
        ready.push(group);
        group = undefined;
      }
      if (group) {
        group.events.push(event);
        group.bytes += entry;
      } else {
        // Exact size of a one-event envelope; later events add their entry's bytes.
        const id = newId();
        groups.set(key, (group = { id, events: [event], bytes: seal([event], limits, id).bytes, first: event.ts, opened_: now() }));
        entry = entryBytes(event, event.ts);
      }
      // Full, or whole write units used well: one more event like this one would mostly pay for an empty unit
      // (the slack: bytes left in the last write unit).
      if (group.events.length >= envelopeMaxEvents || group.bytes + entry > envelopeMaxBytes || (group.bytes >= minSealBytes && (-group.bytes & (WRITE_UNIT - 1)) < entry)) {
        ready.push(group);
        groups.delete(key);
      }
      return ready;
    },

    /** Groups whose oldest event has waited long enough. @returns {Group[]} */
    due: () => take((group) => group.opened_ <= now() - maxDelaySeconds * 1000),

    /** Every open group (on hide, pagehide and flush). @returns {Group[]} */
    all: () => take(() => true),

    /** The open groups, left open (their events are live arrays). @returns {Group[]} */
    open: () => [...groups.values()],

    /** Milliseconds until the next group is due, or -1 when nothing is open. */
    nextDueIn: () =>
      groups.size ? Math.max(0, [...groups.values()].reduce((next, group) => Math.min(next, group.opened_), Infinity) + maxDelaySeconds * 1000 - now()) : -1,

    /** Drops open events (consent withdrawn). */
    clear: () => groups.clear(),
  };
}

/**
 * Which envelopes to drop so the outbox fits its bounds again: the oldest first, never one in flight.
 * @template {{id: string, first: number, count: number, bytes: number}} E
 * @param {E[]} envelopes
 * @param {{count: number, bytes: number}} totals events and bytes now in the outbox; what is left once these go
 *   (the envelopes returned) is left here
 * @param {{outboxMaxEvents: number, outboxMaxBytes: number}} limits
 * @param {Set<string>} inFlight
 */
export function overflow(envelopes, totals, limits, inFlight = new Set()) {
  /** @type {E[]} */
  const drop = [];
  for (const envelope of [...envelopes].sort((a, b) => a.first - b.first)) {
    if (totals.count <= limits.outboxMaxEvents && totals.bytes <= limits.outboxMaxBytes) break;
    if (inFlight.has(envelope.id)) continue;
    drop.push(envelope);
    totals.count -= envelope.count;
    totals.bytes -= envelope.bytes;
  }
  return drop;
}
