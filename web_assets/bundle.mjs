// The tracker's one bundling pipeline: esbuild bundles and minifies, terser shrinks the result further (about 3% of
// the worker, gzipped). build.mjs writes its output into dist; bench/floor.mjs builds variants of the sources with it.
import { join } from 'node:path';
import { build } from 'esbuild';
import { minify } from 'terser';

/**
 * Bundles ``src/<entry>`` into one minified classic script with its source map.
 * @param {string} src the sources' folder @param {string} entry @param {Record<string, string>} [define]
 * @param {string} [out] the folder the script will be in (the source map names the sources relative to it)
 * @returns {Promise<{code: string, map: string, inputs: Record<string, {bytesInOutput: number}>, esbuilt: number}>}
 */
export async function bundle(src, entry, define = {}, out = src) {
  const result = await build({
    entryPoints: [join(src, entry)],
    outfile: join(out, 'bundle.js'), // places the source map; nothing is written
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
  const file = (/** @type {string} */ suffix) => /** @type {import('esbuild').OutputFile} */ (result.outputFiles.find((f) => f.path.endsWith(suffix))).text;
  const esbuilt = file('.js');
  const terse = await minify(esbuilt, { ecma: 2020, compress: { passes: 2 }, sourceMap: { content: file('.js.map') } });
  const { inputs } = /** @type {any} */ (Object.values(/** @type {import('esbuild').Metafile} */ (result.metafile).outputs).find((o) => o.entryPoint));
  return { code: /** @type {string} */ (terse.code), map: /** @type {string} */ (terse.map), inputs, esbuilt: esbuilt.length };
}
