// Event ids: 16 base64url characters. The first 14 are random (84 bits from crypto.getRandomValues, which, unlike
// crypto.randomUUID, also exists outside secure contexts) and are drawn again every 4,096 ids; the last 2 count
// within them. So track() pays for randomness once per 4,096 calls, and two ids share their random part only if
// they are in one page's run of 4,096. Made by indexing a string, not with btoa or toString, which a page may
// have replaced.
const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
let random = '';
let n = 0;

/** @returns {string} */
export function newId() {
  if (!(n & 4095)) {
    const bytes = crypto.getRandomValues(new Uint8Array(64));
    // A page may have replaced getRandomValues (a broken polyfill, a test double): ids would repeat, and events
    // with one id are kept once. 64 random bytes take ~57 of 256 values; far fewer means broken.
    if (new Set(bytes).size < 24) throw new Error('putonly: crypto.getRandomValues() returns no random bytes on this page, so event ids would repeat');
    random = '';
    for (let i = 0; i < 14; i++) random += DIGITS[bytes[i] & 63];
  }
  return random + DIGITS[(n >> 6) & 63] + DIGITS[n++ & 63];
}
