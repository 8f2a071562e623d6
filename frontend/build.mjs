// Builds the UI into frontend/dist: `node frontend/build.mjs` (run by `make frontend`, after `ape compile`).
// First writes frontend/src/generated/contracts.js (ABIs and enums) from ape's compiled artifacts.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildError, writeContracts } from './gen-contracts.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dist = join(here, 'dist');
const evmPackage = join(root, 'node_modules', '@ethereumjs', 'evm', 'package.json');
const evmVersion = String(JSON.parse(readFileSync(evmPackage, 'utf8')).version);

try {
  writeContracts();
} catch (e) {
  if (!(e instanceof BuildError)) throw e;
  console.error(`frontend build failed: ${e.message}`);
  process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: { app: join(here, 'src', 'main.js') },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  splitting: true, // the in-browser EVM is a separate chunk, loaded only when a proof is verified
  outdir: dist,
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  define: { __EVM_VERSION__: JSON.stringify(evmVersion) },
});
copyFileSync(join(here, 'src', 'index.html'), join(dist, 'index.html'));
copyFileSync(join(here, 'src', 'style.css'), join(dist, 'style.css'));
console.log(`frontend built into ${dist} (@ethereumjs/evm ${evmVersion})`);
