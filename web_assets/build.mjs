// Builds the tracker into dist/v1: the content-hashed worker first, then the loader that names it; and
// dist/snippet.html, the page snippet (stub + async script tag) the Snippet output, README, demo and tests use.
// Prints min and gzip sizes, and each source module's share of them (esbuild's metafile). Usage: node build.mjs
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist', 'v1');
const LOADER_URL = '__PUTONLY_LOADER_URL__'; // filled in with the loader's URL where the snippet is used
const common = {
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  sourcemap: true,
  legalComments: 'none',
  metafile: true,
  mainFields: ['module', 'main'],
  platform: 'browser',
  logLevel: 'warning',
};

rmSync(join(root, 'dist'), { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const worker = await build({
  ...common,
  entryPoints: { worker: join(root, 'src', 'worker.js') },
  entryNames: '[name].[hash]',
  outdir: out,
});
const workerFile = Object.keys(worker.metafile.outputs).map((p) => basename(p)).find((p) => p.endsWith('.js'));

const loader = await build({
  ...common,
  entryPoints: [join(root, 'src', 'loader.js')],
  outfile: join(out, 'putonly.js'),
  define: { __PUTONLY_WORKER__: JSON.stringify(workerFile) },
});

const sizes = {};
for (const [file, { metafile }] of [['putonly.js', loader], [workerFile, worker]]) {
  const bytes = readFileSync(join(out, file));
  const gzip = gzipSync(bytes, { level: 9 }).length;
  // Minified bytes of each module in the bundle; its gzip share is estimated pro rata (gzip is not additive).
  const output = Object.entries(metafile.outputs).find(([path]) => path.endsWith(file))?.[1];
  const modules = Object.fromEntries(
    Object.entries(output?.inputs || {})
      .map(([path, { bytesInOutput }]) => [path.replace(/^src\//, ''), { min: bytesInOutput, gzip: Math.round((gzip * bytesInOutput) / bytes.length) }])
      .sort(([, a], [, b]) => b.min - a.min),
  );
  sizes[file] = { min: bytes.length, gzip, modules };
  console.log(`${file.padEnd(28)} ${String(bytes.length).padStart(7)} B min ${String(gzip).padStart(6)} B gzip -9`);
  for (const [name, size] of Object.entries(modules)) {
    console.log(`  ${name.padEnd(26)} ${String(size.min).padStart(7)} B min ~${String(size.gzip).padStart(5)} B gzip share`);
  }
}
const snippet = readFileSync(join(root, 'src', 'snippet.html'), 'utf8');
if (snippet.split(LOADER_URL).length !== 2) throw new Error(`src/snippet.html must name ${LOADER_URL} exactly once`);
writeFileSync(join(root, 'dist', 'snippet.html'), snippet);
writeFileSync(join(root, 'dist', 'build.json'), JSON.stringify({ worker: `v1/${workerFile}`, sizes }, null, 2) + '\n');
