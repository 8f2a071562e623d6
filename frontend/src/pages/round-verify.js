// The round page's "Verify proof in browser" panel: runs verify.js's verifyRound and shows its outcome.
import { keccak256 } from 'viem';
import { ChainUnreachable } from '../chain.js';
import { ContentError } from '../content.js';
import { esc, fmtInt, tid } from '../format.js';
import { EVM_VERSION, verifyRound } from '../verify.js';

const bytesOf = (code) => fmtInt((code.length - 2) / 2);

/** Runs the verification of finalized round `r` when the page's verify button is clicked. */
export function mountVerify(chain, r, info) {
  const btn = document.getElementById('verify-btn');
  btn.addEventListener('click', () => run(chain, r, info, btn, document.getElementById('verify-result')));
}

async function run(chain, r, info, btn, out) {
  const show = (cls, state, html) => { out.innerHTML = `<div class="state ${cls}" data-state="${state}">${html}</div>`; };
  btn.disabled = true;
  show('', 'running', 'Fetching the proof and the verifier contract\'s code…');
  try {
    const res = await verifyRound(chain, r, info, ({ ruleName, code }) => {
      show('', 'running', `Executing the ${ruleName} verifier's code (${bytesOf(code)} bytes) in an in-browser EVM…`);
    });
    if (res.state === 'malformed') {
      show('error', 'malformed', `<span class="badge bad">flagged</span> The file under <code>${esc(r.finalized.args.proofCid)}</code> is not an ezkl proof file: ${esc(res.error.message || res.error)}`);
      return;
    }
    const bindingList = `<ul class="bindings" ${tid('verify-bindings')}>${res.bindings.map(([what, ok]) => `<li class="integrity ${ok ? 'ok' : 'bad'}">${ok ? '✓' : '✗'} ${what}</li>`).join('')}</ul>`;
    if (res.state === 'mismatch') {
      show('error', 'mismatch', `<span class="badge bad">flagged: not the proof the chain accepted</span> The verifier was not run.${bindingList}`);
      return;
    }
    const { state, ruleName, address, code, blockNumber, instances, genuine, control } = res;
    const ran = genuine.contracts.map((c) => `<li ${tid('verifier-contract')} data-address="${esc(c.address)}"><code>${esc(c.address)}</code>: ${fmtInt(c.bytes)} bytes, keccak256 <code>${esc(c.codeHash)}</code></li>`).join('');
    const head = state === 'verified'
      ? '<span class="badge ok">verified in browser</span> in-browser EVM executing the deployed ezkl verifier: <code>verifyProof</code> returned true for the published proof and its instances'
      : state === 'rejected'
        ? `<span class="badge bad">rejected</span> in-browser EVM executing the deployed ezkl verifier: <code>verifyProof</code> ${esc(genuine.outcome)} for the proof and instances in the proof file served for this round`
        : '<span class="badge bad">tamper control failed</span> the verifier code accepted the proof and also a corrupted copy of it, so its answer means nothing';
    const controlLine = control.accepted
      ? `<span class="badge bad">tamper control: accepted</span> the corrupted copy ${esc(control.outcome)}`
      : `<span class="badge ok">tamper control: rejected</span> the same code ${esc(control.outcome)}`;
    show(state === 'verified' ? '' : 'error', state, `<p ${tid('verify-genuine')} data-outcome="${genuine.accepted ? 'accepted' : 'rejected'}">${head}
        (${instances.length} instances; <span ${tid('verify-gas')}>${fmtInt(genuine.gasUsed)}</span> gas, <span ${tid('verify-ms')}>${genuine.ms.toFixed(0)}</span> ms).</p>
      <p ${tid('verify-tamper')} data-outcome="${control.accepted ? 'accepted' : 'rejected'}">${controlLine}
        for the proof with byte ${res.flipped} of ${res.proofBytes} flipped (XOR 0x01) and the instances unchanged (${fmtInt(control.gasUsed)} gas, ${control.ms.toFixed(0)} ms).</p>
      <dl class="kv">
        <dt>Verifier code</dt><dd>the ${ruleName} verifier deployed at <code ${tid('verifier-address')}>${esc(address)}</code>, read from the chain node
          with <code>eth_getCode</code>: ${bytesOf(code)} bytes, keccak256 <code ${tid('verifier-code-hash')}>${keccak256(code)}</code>;
          it ran here, in @ethereumjs/evm ${esc(EVM_VERSION)}, over the chain's state at block ${blockNumber}</dd>
        <dt>Contracts that ran</dt><dd>every contract the verifier called, with its code and storage read from the chain node at block ${blockNumber}
          as the call needed them (eth_getProof, eth_getCode, eth_getStorageAt):<ul ${tid('verifier-contracts')}>${ran}</ul></dd>
        <dt>Bound to the chain</dt><dd>${bindingList}</dd>
      </dl>`);
  } catch (e) {
    const kind = e instanceof ContentError ? e.kind : e instanceof ChainUnreachable ? 'chain-unreachable' : 'error';
    show('error', kind, `<span class="badge bad">flagged</span> Could not verify: ${esc(e.message || e)}`);
  } finally {
    btn.disabled = false;
  }
}
