// How small the loader could be while it does what it must: the loader built by the tracker's own pipeline
// (web_assets/bundle.mjs) from a copy of web_assets/src, (1) as it is, (2) with every error message cut to one letter,
// (3) with that and without the end-of-visit copies (the signed PutItems it sends with keepalive when the page goes).
// What is left in (3) is what no wording can shrink: the read-once serializer, the checks, the stub's replay, the
// hand-over to the worker, flush/consent/reset/identity. Prints gzip -9 and minified sizes as JSON.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { transform } from 'esbuild';
import { bundle } from '../web_assets/bundle.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const built = join(here, '..', 'web_assets', 'dist', 'build.json');
// The name the loader holds, as in the build (its bytes count in the gzip too).
const WORKER = existsSync(built) ? JSON.parse(readFileSync(built, 'utf8')).worker.replace('v1/', '') : 'worker.0123456789.js';

/** Every message the loader can show, cut to one letter (the worker's messages are the worker's). */
const MESSAGES = {
  'loader.js': [
    ['`putonly: cannot start the worker: ${reason}`', "'a' + reason"],
    ["'options must be a plain object: {subject}'", "'b'"],
    ['`unknown option "${key}"; the only one is subject`', "'c'"],
    ["'consent() takes true or false'", "'d'"],
    ["reason.startsWith('putonly:') ? reason : cannotStart(reason)", 'reason'],
    ['"refused (does the page\'s Content-Security-Policy allow worker-src blob:?)"', "'e'"],
  ],
  'validate.js': [
    ["'putonly: ' + message", 'message'],
    ["const shown = topic && (typeof topic === 'object' || typeof topic === 'function') ? '' : stringify(String(topic).slice(0, 80)) + ' ';", ''],
    ['`topic ${shown}(${typeof topic}) must be a string matching ${TOPIC_PATTERN}`', "'f'"],
    ['`subject must be a string or a safe integer, got ${typeof subject}`', "'g'"],
    ['`subject must be 1 to ${SUBJECT_MAX} characters, got ${subject.length}`', "'h'"],
    ["'subject must not contain control characters or lone surrogates'", "'i'"],
    ["'data is undefined; pass null or an object'", "'j'"],
    ['`data${err.path} ${err.what}`', 'err.path + err.what'],
    ['`data is ${bytes} bytes as JSON; the limit is ${maxBytes}`', "'k'"],
    ['`cannot be read: ${/** @type {Error} */ (err)?.message || err}`', "'l'"],
    ["`is ${type === 'number' ? value : type === 'bigint' ? 'a BigInt' : type === 'undefined' ? type : 'a ' + type}; JSON cannot represent it`", "'m'"],
    ['`is nested deeper than ${MAX_DEPTH} levels`', "'n'"],
    ["'refers back to itself (a cycle)'", "'o'"],
    ["'has its own toJSON(); pass the plain data it stands for'", "'p'"],
    ['`is an instance of ${proto.constructor?.name}, not a plain object; convert it first`', "'q'"],
  ],
  'ids.js': [["'putonly: crypto.getRandomValues() returns no random bytes on this page, so event ids would repeat'", "'r'"]],
};

/** The end-of-visit copies taken out: the page then only hands its last events to the worker when it goes. */
const COPIES = {
  'loader.js': [
    ['const copies = new Map();', ''],
    ['let gen = 0;', ''],
    ['const sending = new Map();\n  let sendingBytes = 0;\n  let hidden = false;', ''],
    ["api.reset = () => (copies.clear(), ask('reset', ++gen));", "api.reset = () => ask('reset');"],
    ['if (!value) send(), copies.clear(), gen++;', 'if (!value) send();'],
    ["post({ t: 'consent', value, g: gen });", "post({ t: 'consent', value });"],
    [/ {4}\} else if \(data\.t === 'copies'\) \{[^]*?(?= {4}\} else if \(data\.t === 'consent'\))/, ''],
    ['      if (!consented) copies.clear();\n', ''],
    ['      if (detail.envelope) copies.delete(detail.envelope);\n', ''],
    [/ {2}\/\*\* Sends the copies not on their way yet[^]*?(?= {2}const hide = )/, ''],
    ['const hide = () => {\n    hidden = true;\n    send();\n    keep();\n  };', 'const hide = () => send();'],
    ["((hidden = false), post({ t: 'show' }))", "post({ t: 'show' })"],
  ],
};

/** @param {string} src @param {Record<string, [string | RegExp, string][]>} edits */
function apply(src, edits) {
  for (const [file, pairs] of Object.entries(edits)) {
    let text = readFileSync(join(src, file), 'utf8');
    for (const [find, replace] of pairs) {
      const next = text.replace(find, replace);
      if (next === text) throw new Error(`bench/floor.mjs: web_assets/src/${file} no longer contains ${find}; update the edit`);
      text = next;
    }
    writeFileSync(join(src, file), text);
  }
}

/** @param {string} src */
async function size(src) {
  const { code: bundled } = await bundle(src, 'loader.js', { __PUTONLY_WORKER__: JSON.stringify(WORKER) });
  const code = `${bundled}\n//# sourceMappingURL=putonly.js.map\n`; // as web_assets/build.mjs writes it
  return { min: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).length };
}

const work = mkdtempSync(join(tmpdir(), 'putonly-floor-'));
try {
  const src = join(work, 'src');
  cpSync(join(here, '..', 'web_assets', 'src'), src, { recursive: true });
  // esbuild reads them as in the build: tsconfig.json makes the bundle strict mode ("use strict").
  for (const file of ['package.json', 'tsconfig.json']) cpSync(join(here, '..', 'web_assets', file), join(work, file));
  const loader = await size(src);
  apply(src, MESSAGES);
  const oneLetterMessages = await size(src);
  apply(src, COPIES);
  // Names, not words in comments or strings ('hidden' is a visibilityState).
  const { code } = await transform(readFileSync(join(src, 'loader.js'), 'utf8'), { minifyWhitespace: true });
  const left = code.match(/(?<!['"])\b(copies|gen|sending|sendingBytes|hidden|keep)\b(?!['"])/);
  if (left) throw new Error(`bench/floor.mjs: the loader still uses ${left[0]} once its copies are out; update the edits`);
  const withoutCopies = await size(src);
  console.log(JSON.stringify({ loader, one_letter_messages: oneLetterMessages, one_letter_messages_no_copies: withoutCopies }));
} finally {
  rmSync(work, { recursive: true, force: true });
}
