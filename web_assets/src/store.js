// The outbox: IndexedDB stores for loose events, sealed envelopes and a little metadata. Records carry
// the id of the worker that owns them, so leftovers of closed tabs can be found and adopted.

/** @template T @param {IDBRequest<T> | IDBTransaction} r @returns {Promise<T>} */
const done = (r) => new Promise((resolve, reject) => {
  // A request succeeds; a transaction completes (or aborts).
  /** @type {any} */ (r).onsuccess = /** @type {any} */ (r).oncomplete = () => resolve(/** @type {any} */ (r).result);
  /** @type {any} */ (r).onerror = /** @type {any} */ (r).onabort = () => reject(/** @type {any} */ (r).error);
});

const BOTH = ['events', 'envelopes'];

/** Opens (creating on first use) the outbox database. */
export async function openOutbox(name = 'putonly') {
  const request = indexedDB.open(name, 1);
  request.onupgradeneeded = () => {
    const db = request.result;
    db.createObjectStore('meta');
    for (const store of BOTH) db.createObjectStore(store, { keyPath: 'id' }).createIndex('owner', 'owner');
  };
  const db = await done(request);

  /**
   * Runs ``work`` on the named stores in one transaction; resolves with its result once committed.
   * @template T @param {string[]} stores @param {(...stores: IDBObjectStore[]) => T} work @returns {Promise<Awaited<T>>}
   */
  const tx = async (stores, work, mode = /** @type {IDBTransactionMode} */ ('readwrite')) => {
    const t = db.transaction(stores, mode);
    const result = await work(...stores.map((store) => t.objectStore(store)));
    await done(t);
    return result;
  };

  return {
    /** @param {string} key */
    getMeta: (key) => tx(['meta'], (meta) => done(meta.get(key)), 'readonly'),

    /** @param {string} key @param {unknown} value */
    setMeta: (key, value) => tx(['meta'], (meta) => void meta.put(value, key)),

    /** Stores ``id`` as the visitor's identity unless one is stored already; resolves with the stored one. @param {string} id */
    claimId: (id) => tx(['meta'], async (meta) => /** @type {string} */ ((await done(meta.get('identityId'))) || (meta.put(id, 'identityId'), id))),

    /** Forgets the stored identity if it is still ``id`` (the pool no longer knows it). @param {string} id */
    forgetId: (id) =>
      tx(['meta'], async (meta) => {
        if ((await done(meta.get('identityId'))) === id) meta.delete('identityId');
      }),

    /** @param {object[]} events */
    addEvents: (events) => tx(['events'], (store) => events.forEach((e) => store.put(e))),

    /** @param {string[]} ids */
    dropEvents: (ids) => tx(['events'], (store) => ids.forEach((id) => store.delete(id))),

    /** Replaces the loose events an envelope now holds by the envelope, atomically. @param {{ids: string[]}} envelope */
    seal: (envelope) =>
      tx(BOTH, (events, envelopes) => {
        envelope.ids.forEach((id) => events.delete(id));
        envelopes.put(envelope);
      }),

    /** Deletes envelopes ``gone`` and puts ``added`` (after a success, a drop or a split). @param {string[]} gone */
    replaceEnvelopes: (gone, added = /** @type {object[]} */ ([])) =>
      tx(['envelopes'], (store) => {
        gone.forEach((id) => store.delete(id));
        added.forEach((e) => store.put(e));
      }),

    /** @param {'events' | 'envelopes'} store @param {string} [owner] @returns {Promise<any[]>} */
    all: (store, owner) => tx([store], (s) => done(owner ? s.index('owner').getAll(owner) : s.getAll()), 'readonly'),

    /** Moves every record of the ``from`` owner to ``to``; returns [events, envelopes] adopted. @param {string} from @param {string} to */
    adopt: (from, to) =>
      tx(BOTH, (...stores) =>
        Promise.all(
          stores.map(async (store) => {
            const records = (await done(store.index('owner').getAll(from))).map((r) => ({ ...r, owner: to }));
            records.forEach((r) => store.put(r));
            return records;
          }),
        ),
      ),

    clear: () => tx(BOTH, (...stores) => stores.forEach((s) => s.clear())),
  };
}
