// Short random ids: 16 base64url characters = 96 random bits from crypto.getRandomValues,
// drawn from a pool so one track() call costs no system call.
let pool = new Uint8Array(0);
let at = 0;

/** @returns {string} */
export function newId() {
  if (at >= pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(768));
    at = 0;
  }
  at += 12;
  return btoa(String.fromCharCode(...pool.subarray(at - 12, at))).replace(/\+/g, '-').replace(/\//g, '_');
}
