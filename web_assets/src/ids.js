// Short random ids: 16 base64url characters = 96 random bits, from crypto.getRandomValues
// (available in insecure contexts too, unlike crypto.randomUUID).
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const POOL = 64 * 12;
let pool = new Uint8Array(0);
let at = POOL;

/** @returns {string} */
export function newId() {
  if (at >= pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL));
    at = 0;
  }
  let id = '';
  for (let i = 0; i < 12; i += 3, at += 3) {
    const n = (pool[at] << 16) | (pool[at + 1] << 8) | pool[at + 2];
    id += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  return id;
}
