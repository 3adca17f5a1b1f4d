// The outbox: IndexedDB stores for loose events, sealed envelopes and a little metadata. Records carry
// the id of the worker that owns them, so leftovers of closed tabs can be found and adopted.

const DB_NAME = 'putonly';
const DB_VERSION = 1;

/** @template T @param {IDBRequest<T>} request @returns {Promise<T>} */
const done = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

/** @param {IDBTransaction} tx @returns {Promise<void>} */
const committed = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onerror = tx.onabort = () => reject(tx.error || new Error('putonly: IndexedDB transaction aborted'));
});

export class Outbox {
  /** @param {IDBDatabase} db */
  constructor(db) {
    this.db = db;
  }

  static async open(name = DB_NAME) {
    const request = indexedDB.open(name, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore('meta');
      db.createObjectStore('events', { keyPath: 'id' }).createIndex('owner', 'owner');
      db.createObjectStore('envelopes', { keyPath: 'id' }).createIndex('owner', 'owner');
    };
    return new Outbox(await done(request));
  }

  /** @param {string[]} stores @param {(tx: IDBTransaction) => void} work */
  async write(stores, work) {
    const tx = this.db.transaction(stores, 'readwrite');
    work(tx);
    await committed(tx);
  }

  /** @param {string} key */
  async getMeta(key) {
    return done(this.db.transaction('meta').objectStore('meta').get(key));
  }

  /** @param {string} key @param {unknown} value */
  setMeta(key, value) {
    return this.write(['meta'], (tx) => tx.objectStore('meta').put(value, key));
  }

  /** @param {object[]} events */
  addEvents(events) {
    return this.write(['events'], (tx) => {
      const store = tx.objectStore('events');
      for (const event of events) store.put(event);
    });
  }

  /** Replaces loose events by the envelope that now holds them, atomically. @param {{ids: string[]}} envelope */
  seal(envelope) {
    return this.write(['events', 'envelopes'], (tx) => {
      const events = tx.objectStore('events');
      for (const id of envelope.ids) events.delete(id);
      tx.objectStore('envelopes').put(envelope);
    });
  }

  /** @param {string} id @param {object[]} replacements */
  replaceEnvelope(id, replacements) {
    return this.write(['envelopes'], (tx) => {
      const store = tx.objectStore('envelopes');
      store.delete(id);
      for (const envelope of replacements) store.put(envelope);
    });
  }

  /** @param {string[]} ids */
  deleteEnvelopes(ids) {
    return this.write(['envelopes'], (tx) => {
      for (const id of ids) tx.objectStore('envelopes').delete(id);
    });
  }

  /** @param {'events' | 'envelopes'} store @param {string} [owner] @returns {Promise<any[]>} */
  all(store, owner) {
    const source = this.db.transaction(store).objectStore(store);
    return done(owner === undefined ? source.getAll() : source.index('owner').getAll(owner));
  }

  /** Every owner with records in the outbox. @returns {Promise<Set<string>>} */
  async owners() {
    const owners = new Set();
    const tx = this.db.transaction(['events', 'envelopes']);
    for (const name of ['events', 'envelopes']) {
      const cursorRequest = tx.objectStore(name).index('owner').openKeyCursor(null, 'nextunique');
      await new Promise((resolve, reject) => {
        cursorRequest.onerror = () => reject(cursorRequest.error);
        cursorRequest.onsuccess = () => {
          const cursor = cursorRequest.result;
          if (!cursor) return resolve(undefined);
          owners.add(cursor.key);
          cursor.continue();
        };
      });
    }
    return owners;
  }

  /** Moves every record of ``from`` to ``to`` in one transaction; returns what was adopted. */
  async adopt(/** @type {string} */ from, /** @type {string} */ to) {
    /** @type {{events: any[], envelopes: any[]}} */
    const adopted = { events: [], envelopes: [] };
    const tx = this.db.transaction(['events', 'envelopes'], 'readwrite');
    for (const name of /** @type {const} */ (['events', 'envelopes'])) {
      const store = tx.objectStore(name);
      for (const record of await done(store.index('owner').getAll(from))) {
        record.owner = to;
        store.put(record);
        adopted[name].push(record);
      }
    }
    await committed(tx);
    return adopted;
  }

  clear() {
    return this.write(['events', 'envelopes'], (tx) => {
      tx.objectStore('events').clear();
      tx.objectStore('envelopes').clear();
    });
  }
}
