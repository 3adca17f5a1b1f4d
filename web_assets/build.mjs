// Builds the tracker into dist/v1: the content-hashed worker first, then the loader that names it; and
// dist/snippet.html, the page snippet (stub + async script tag) the Snippet output, README, demo and tests use.
// esbuild bundles and minifies, terser shrinks the result further (about 3% of the worker, gzipped), each file
// with its source map. Prints min and gzip sizes, and each source module's share (esbuild's metafile).
// Usage: node build.mjs
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { minify } from 'terser';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist', 'v1');
const LOADER_URL = '__PUTONLY_LOADER_URL__'; // filled in with the loader's URL where the snippet is used

/**
 * Bundles ``entry`` into ``dist/v1/<name>``; ``[hash]`` in the name becomes a hash of the final bytes.
 * @param {string} entry @param {string} name @param {Record<string, string>} [define]
 */
async function bundle(entry, name, define = {}) {
  const result = await build({
    entryPoints: [join(root, 'src', entry)],
    outfile: join(out, 'bundle.js'),
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    sourcemap: 'external',
    legalComments: 'none',
    metafile: true,
    platform: 'browser',
    logLevel: 'warning',
    write: false,
    define,
    mangleProps: /[^_]_$/, // internal property names (never stored, never in a message) end in _
  });
  const file = (suffix) => result.outputFiles.find((f) => f.path.endsWith(suffix)).text;
  const esbuilt = file('.js');
  const terse = await minify(esbuilt, { ecma: 2020, compress: { passes: 2 }, sourceMap: { content: file('.js.map') } });
  const code = /** @type {string} */ (terse.code);
  const final = name.replace('[hash]', createHash('sha256').update(code).digest('hex').slice(0, 10));
  writeFileSync(join(out, final), `${code}\n//# sourceMappingURL=${final}.map\n`);
  writeFileSync(join(out, `${final}.map`), JSON.stringify({ ...JSON.parse(/** @type {string} */ (terse.map)), file: final }));
  const { inputs } = Object.values(result.metafile.outputs).find((o) => o.entryPoint);
  return { file: final, inputs, esbuilt: esbuilt.length };
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const worker = await bundle('worker.js', 'worker.[hash].js');
const loader = await bundle('loader.js', 'putonly.js', { __PUTONLY_WORKER__: JSON.stringify(worker.file) });

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
