// Builds the comparison bundles (minified, es2020, like the tracker) and prints every download size as JSON.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
mkdirSync(out, { recursive: true });
const options = { bundle: true, minify: true, format: 'iife', target: 'es2020', platform: 'browser', legalComments: 'none', logLevel: 'error' };
await build({ ...options, entryPoints: [join(here, 'sdk-v3-worker.js')], outfile: join(out, 'sdk-v3-worker.js') });
await build({ ...options, entryPoints: [join(here, 'sdk-v3-main.js')], outfile: join(out, 'sdk-v3-main.js') });

const size = (path) => {
  const bytes = readFileSync(path);
  return { min: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};
const tracker = join(here, '..', 'web_assets', 'dist', 'v1');
const worker = readdirSync(tracker).find((f) => /^worker\..+\.js$/.test(f));
const loader = size(join(tracker, 'putonly.js'));
const putonlyWorker = size(join(tracker, worker));
const sizes = {
  putonly_loader: loader,
  putonly_worker: putonlyWorker,
  putonly: { min: loader.min + putonlyWorker.min, gzip: loader.gzip + putonlyWorker.gzip },
  sdk_v3_worker: size(join(out, 'sdk-v3-worker.js')),
  sdk_v2_seed: size(join(here, 'node_modules', 'aws-sdk', 'dist', 'aws-sdk.min.js')),
};
writeFileSync(join(out, 'sizes.json'), JSON.stringify(sizes, null, 2));
console.log(JSON.stringify(sizes));
