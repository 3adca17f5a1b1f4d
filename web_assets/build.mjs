// Builds the tracker into dist/v1: the content-hashed worker first, then the loader that names it; and
// dist/snippet.html, the page snippet (stub + async script tag) the Snippet output, README, demo and tests use.
// bundle.mjs makes each file, with its source map. Prints min and gzip sizes, and each source module's share (esbuild's metafile).
// Usage: node build.mjs
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bundle } from './bundle.mjs';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist', 'v1');
const LOADER_URL = '__PUTONLY_LOADER_URL__'; // filled in with the loader's URL where the snippet is used

/**
 * Bundles ``entry`` into ``dist/v1/<name>``; ``[hash]`` in the name becomes a hash of the final bytes.
 * @param {string} entry @param {string} name @param {Record<string, string>} [define]
 */
async function write(entry, name, define = {}) {
  const { code, map, inputs, esbuilt } = await bundle(join(root, 'src'), entry, define, out);
  const final = name.replace('[hash]', createHash('sha256').update(code).digest('hex').slice(0, 10));
  writeFileSync(join(out, final), `${code}\n//# sourceMappingURL=${final}.map\n`);
  writeFileSync(join(out, `${final}.map`), JSON.stringify({ ...JSON.parse(map), file: final }));
  return { file: final, inputs, esbuilt };
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const worker = await write('worker.js', 'worker.[hash].js');
const loader = await write('loader.js', 'putonly.js', { __PUTONLY_WORKER__: JSON.stringify(worker.file) });

const sizes = {};
for (const { file, inputs, esbuilt } of [loader, worker]) {
  const bytes = readFileSync(join(out, file));
  const gzip = gzipSync(bytes, { level: 9 }).length;
  // Each module's bytes in esbuild's output, and its share of the final gzip, pro rata (gzip does not add up).
  const modules = Object.fromEntries(
    Object.entries(inputs)
      .map(([path, { bytesInOutput }]) => [relative('src', path), { min: bytesInOutput, gzip: Math.round((gzip * bytesInOutput) / esbuilt) }])
      .sort(([, a], [, b]) => b.min - a.min),
  );
  sizes[file] = { min: bytes.length, gzip, modules };
  console.log(`${file.padEnd(28)} ${String(bytes.length).padStart(7)} B min ${String(gzip).padStart(6)} B gzip -9`);
  for (const [module, size] of Object.entries(modules)) {
    console.log(`  ${module.padEnd(26)} ${String(size.min).padStart(7)} B esbuild ~${String(size.gzip).padStart(5)} B gzip share`);
  }
}
const snippet = readFileSync(join(root, 'src', 'snippet.html'), 'utf8');
if (snippet.split(LOADER_URL).length !== 2) throw new Error(`src/snippet.html must name ${LOADER_URL} exactly once`);
writeFileSync(join(root, 'dist', 'snippet.html'), snippet);
writeFileSync(join(root, 'dist', 'build.json'), JSON.stringify({ worker: `v1/${worker.file}`, sizes }, null, 2) + '\n');
