// Event ids: 16 base64url characters. The first 13 are random (78 bits from crypto.getRandomValues, which, unlike
// crypto.randomUUID, also exists outside secure contexts) and are drawn again every 1,024 ids; the last 3 count
// within them. So track() pays for randomness once per 1,024 calls, and two ids share their random part only if
// they are in one page's run of 1,024.
let random = '';
let n = 0;

/** @returns {string} */
export function newId() {
  if (!(n & 1023)) {
    const bytes = crypto.getRandomValues(new Uint8Array(64));
    // A page may have replaced getRandomValues (a broken polyfill, a test double): ids would repeat, and events
    // with one id are kept once. 64 random bytes take ~57 of 256 values; far fewer means broken.
    if (new Set(bytes).size < 24) throw new Error('putonly: crypto.getRandomValues() returns no random bytes on this page, so event ids would repeat');
    random = btoa(String.fromCharCode(...bytes.subarray(0, 10))).slice(0, 13).replace(/\+/g, '-').replace(/\//g, '_');
  }
  // 1024 to 2047 in base 32: always 3 characters.
  return random + ((n++ & 1023) | 1024).toString(32);
}
