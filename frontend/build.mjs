// Builds the UI into frontend/dist: `node frontend/build.mjs` (run by `make frontend`).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dist = join(here, 'dist');
const engineDir = join(root, 'node_modules', '@ezkljs', 'engine');
const engineVersion = String(JSON.parse(readFileSync(join(engineDir, 'package.json'), 'utf8')).version).replace(/^v/, '');

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: { app: join(here, 'src', 'main.js') },
  bundle: true,
  format: 'esm',
  splitting: true, // the ezkl engine is a separate chunk, loaded only when a proof is verified
  outdir: dist,
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  define: { __ENGINE_VERSION__: JSON.stringify(engineVersion) },
});
copyFileSync(join(here, 'src', 'index.html'), join(dist, 'index.html'));
copyFileSync(join(here, 'src', 'style.css'), join(dist, 'style.css'));
copyFileSync(join(engineDir, 'web', 'ezkl_bg.wasm'), join(dist, 'ezkl_bg.wasm'));
console.log(`frontend built into ${dist} (@ezkljs/engine ${engineVersion})`);
