// In-browser proof verification with ezkl's WebAssembly engine (@ezkljs/engine, web target).
// Loaded on demand (its own chunk, ~10 MB of WebAssembly), never by the pages themselves.
import init, { init_panic_hook, verify } from '@ezkljs/engine/web/ezkl.js';

let ready = null;

export function initEngine() {
  if (!ready) {
    ready = (async () => {
      if (!self.crossOriginIsolated) {
        throw new Error('the page is not cross-origin isolated, so the engine cannot get its shared WebAssembly memory');
      }
      // The README's recommended memory (the default maximum, 4 GiB shared, is more than needed here).
      const memory = new WebAssembly.Memory({ initial: 20, maximum: 8192, shared: true });
      await init(new URL('ezkl_bg.wasm', document.baseURI), memory);
      init_panic_hook();
    })();
  }
  return ready;
}

const clamped = (bytes) => new Uint8ClampedArray(bytes.buffer, bytes.byteOffset, bytes.byteLength);

// Returns true/false from the engine's verify, or throws the engine's error.
export async function engineVerify(proof, vk, settings, srs) {
  await initEngine();
  return verify(clamped(proof), clamped(vk), clamped(settings), clamped(srs));
}
