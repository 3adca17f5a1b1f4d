// Short random ids: 16 base64url characters = 96 random bits from crypto.getRandomValues (which, unlike
// crypto.randomUUID, also exists outside secure contexts). Made 64 at a time so track() stays cheap.
let pool = '';

/** @returns {string} */
export function newId() {
  if (!pool) {
    const bytes = crypto.getRandomValues(new Uint8Array(768));
    pool = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
  }
  const id = pool.slice(0, 16);
  pool = pool.slice(16);
  return id;
}
