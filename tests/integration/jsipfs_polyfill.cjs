// Loaded with `node --require` before js-ipfs (npm ipfs@0.66.1) in tests/integration/test_kubo_daemon.py.
// Its loose dependency ranges now resolve to it-queue releases that call Promise.withResolvers, which
// Node only has from 22; on Node 20 `jsipfs init` dies with "Promise.withResolvers is not a function".
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
