// Every contract function the UI calls and every event it reads, by contract: the one place to edit when a
// contract renames one. Keys are the UI's names, values the contracts' own. The build
// (frontend/gen-contracts.mjs) keeps exactly these items of ape's compiled ABIs and fails when one is missing.
// Plain data with no imports: the build reads it in Node.

/** The functions the UI calls, by contract type; the pages call view functions as `read(contract, CALLS.<contract>.<name>)`. */
export const CALLS = {
  ConsortiumRegistry: {
    admin: 'admin',
    aggregator: 'aggregator',
    roleOf: 'roleOf',
    hospitalCount: 'hospitalCount',
    enclaveKey: 'enclaveKey',
    enclaveEvidence: 'enclaveEvidence',
    isMeasurementAllowed: 'isMeasurementAllowed',
    measurementApprovals: 'measurementApprovals',
    predictionRegistry: 'predictionRegistry',
    sampleCapOf: 'sampleCapOf',
  },
  RoundManager: {
    circuitCid: 'circuitCid',
    getRound: 'getRound',
    currentModel: 'currentModel',
    modelOf: 'modelOf',
    genesisModelCommitment: 'genesisModelCommitment',
    genesisModelCid: 'genesisModelCid',
    expectedWeights: 'expectedWeights',
    zeroCommitment: 'zeroCommitment',
    kzgBasisDigest: 'kzgBasisDigest',
    slots: 'slots',
    modelSize: 'modelSize',
    padRows: 'padRows',
    chunks: 'chunks',
    scaleBits: 'scaleBits',
    normVerifier: 'normVerifier',
    registry: 'registry',
    maxShareDenominator: 'MAX_SHARE_DENOMINATOR',
    finalizeWindow: 'FINALIZE_WINDOW',
  },
  PredictionRegistry: {
    logitScaleBits: 'LOGIT_SCALE_BITS',
  },
  // Not deployed under this name: the interface of the ezkl verifiers, whose code verify.js runs in the page.
  IHalo2Verifier: {
    verifyProof: 'verifyProof',
  },
};

/**
 * RoundManager's getter of each IRoundManager.AggregationRule's proof verifier, by rule name (one entry per rule);
 * null for a rule finalized without a proof (FedAvg: the contract derives the model's commitment itself).
 */
export const RULE_VERIFIER = {
  FedAvg: null,
  Median: 'medianVerifier',
};

/** The events the pages read, by contract (none of the others). */
export const EVENTS = {
  ConsortiumRegistry: ['MemberAdmitted', 'MemberRemoved', 'EnclaveKeyRegistered', 'AdminTransferred'],
  RoundManager: [
    'CircuitPublished', 'RoundOpened', 'RoundPolicySet', 'UpdateSubmitted', 'UpdateExcluded',
    'RoundFinalized', 'RoundAborted', 'AuditRecorded', 'RoundReportPublished',
    'ModelUnavailableReported', 'RoundRolledBack', 'NormClaimed', 'ChunkProofFaulted',
  ],
  PredictionRegistry: ['PredictionRecorded'],
};

/** The functions the UI calls on `contract`: its CALLS and, for RoundManager, the verifier getters. */
export function functionsOf(contract) {
  const names = Object.values(CALLS[contract] ?? {});
  return contract === 'RoundManager' ? [...names, ...Object.values(RULE_VERIFIER).filter(Boolean)] : names;
}

/** The events the UI reads from `contract`. */
export const eventsOf = (contract) => EVENTS[contract] ?? [];
