// The outbox: IndexedDB stores for loose events, sealed envelopes and a little metadata. Records carry
// the id of the worker that owns them, so leftovers of closed tabs can be found and adopted.

/** @template T @param {IDBRequest<T> | IDBTransaction} r @returns {Promise<T>} */
const done = (r) => new Promise((resolve, reject) => {
  // A request succeeds; a transaction completes (or aborts).
  /** @type {any} */ (r).onsuccess = /** @type {any} */ (r).oncomplete = () => resolve(/** @type {any} */ (r).result);
  /** @type {any} */ (r).onerror = /** @type {any} */ (r).onabort = () => reject(/** @type {any} */ (r).error);
});

const BOTH = ['events', 'envelopes'];
/** @type {IDBDatabase} */
let db;

/** Opens (creating on first use) the outbox database. */
export async function openOutbox() {
  const request = indexedDB.open('putonly', 1);
  request.onupgradeneeded = () => {
    const db = request.result;
    db.createObjectStore('meta');
    for (const store of BOTH) db.createObjectStore(store, { keyPath: 'id' }).createIndex('owner', 'owner');
  };
  return (db = await done(request));
}

/**
 * Runs ``work`` on the named stores in one transaction; resolves with its result once committed.
 * @template T @param {string[]} stores @param {(...stores: IDBObjectStore[]) => T} work @returns {Promise<Awaited<T>>}
 */
const tx = async (stores, work) => {
  const t = db.transaction(stores, 'readwrite');
  const result = await work(...stores.map((store) => t.objectStore(store)));
  await done(t);
  return result;
};

/**
 * Reads a meta value; with ``update``, replaces it by ``update(value)`` in the same transaction and gives that.
 * @param {string} key @param {(value: any) => unknown} [update] @returns {Promise<any>}
 */
export const meta = (key, update) =>
  tx(['meta'], async (store) => {
    let value = await done(store.get(key));
    if (update) store.put((value = update(value)), key);
    return value;
  });

/**
 * The visitor's consent choice on this origin, [value, when made] (undefined and undefined: none yet). With
 * ``update``, also saves the choice it gives for the saved one, if it gives one, in the same transaction; saving a
 * withdrawal clears the outbox in it too (a page that goes away at once leaves both done or neither). Two keys, so
 * that a worker of an earlier version still reads the value as it did.
 * @param {(saved: any[]) => any[] | undefined} [update] @returns {Promise<any[]>}
 */
export const choice = (update) =>
  tx(['meta', ...BOTH], async (store, ...records) => {
    let saved = [await done(store.get('consent')), await done(store.get('consentAt'))];
    const made = update?.(saved);
    if (made) {
      store.put(made[0], 'consent'), store.put(made[1], 'consentAt'), (saved = made);
      if (made[0] === false) records.forEach((r) => r.clear());
    }
    return saved;
  });

/**
 * Deletes the records ``gone`` (ids, in either store) and puts ``added`` (envelopes, which have ``events``,
 * and loose events), atomically: an envelope replaces its events, halves their envelope.
 * @param {string[]} gone @param {object[]} [added]
 */
export const write = (gone, added = []) =>
  tx(BOTH, (events, envelopes) => {
    for (const id of gone) events.delete(id), envelopes.delete(id);
    for (const r of added) ('events' in r ? envelopes : events).put(r);
  });

/**
 * The loose events and the envelopes, [events, envelopes]: all of them, or those of ``owner``; with ``to``, those
 * become ``to``'s in the same transaction (a live worker adopts a gone one's records).
 * @param {string} [owner] @param {string} [to] @returns {Promise<any[][]>}
 */
export const all = (owner, to) =>
  tx(BOTH, (...stores) =>
    Promise.all(
      stores.map(async (store) => {
        const records = await done(owner ? store.index('owner').getAll(owner) : store.getAll());
        if (to) for (const r of records) store.put(((r.owner = to), r));
        return records;
      }),
    ),
  );

export const clear = () => tx(BOTH, (...stores) => stores.forEach((s) => s.clear()));
