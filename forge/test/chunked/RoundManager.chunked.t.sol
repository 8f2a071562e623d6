// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {ConsortiumRegistry} from "@zkfl/ConsortiumRegistry.sol";
import {IConsortiumRegistry} from "@zkfl/interfaces/IConsortiumRegistry.sol";
import {IHalo2Verifier} from "@zkfl/interfaces/IHalo2Verifier.sol";
import {IRoundManager} from "@zkfl/interfaces/IRoundManager.sol";
import {RoundManager} from "@zkfl/RoundManager.sol";
import {ScriptedVerifier} from "../mocks/ScriptedVerifier.sol";
import {G1} from "../utils/G1.sol";
import {ForgeTest} from "../utils/Vm.sol";

/// @title RoundManagerChunkedTest
/// @notice A chunked scheme (chunks = 3): per-chunk norm proofs (`submitChunkProof`), the chunk records
/// `submitUpdate` checks in a bounded round, and per-chunk FedAvg. The norm verifier is a ScriptedVerifier
/// (it approves whatever it is given), so every rejection here comes from RoundManager's own bindings; the
/// proofs' committed points are real G1 points (s * G, the test keeps every discrete log s), so the point
/// checks run against what the contract derives (C(2^13 u_c) = K + 2^13 (C(u_c) - K), the previous model's chunk).
contract RoundManagerChunkedTest is ForgeTest {
    uint256 internal constant SLOTS = 5;
    uint256 internal constant CHUNKS = 3;
    uint256 internal constant SCALE_BITS = 13;
    uint256 internal constant K_LOG = 7; // K = 7 G
    uint256 internal constant PAD_LOG = 12345; // the proof's third point (ignored by the contract)
    uint256 internal constant NORM_BOUND = 1 << 30;
    address internal constant AGGREGATOR = address(0xA66);
    address internal constant OUTSIDER = address(0xBAD);

    ConsortiumRegistry internal registry;
    ScriptedVerifier internal norm;
    ScriptedVerifier internal median;
    uint256[2] internal kPoint;
    RoundManager internal rm;
    /// IRoundManager's event, declared again: solc 0.8.20 cannot emit another contract's event by name
    event ChunkProofAccepted(
        uint256 indexed roundId, address indexed hospital, uint256 chunk, uint256 sumOfSquares, bytes32 pointHash
    );

    /// discrete logs of the current model's chunk points (genesis: 11, 12, 13 times G)
    uint256[] internal modelLogs;

    function setUp() public {
        vm.warp(1_700_000_000);
        registry = new ConsortiumRegistry(address(this));
        norm = new ScriptedVerifier();
        norm.set(true, false);
        median = new ScriptedVerifier();
        kPoint = G1.mulG(K_LOG);
        modelLogs = [uint256(11), 12, 13];
        rm = _deploy(CHUNKS, G1.mulGs(modelLogs));
        registry.admitMember(AGGREGATOR, IConsortiumRegistry.Role.Aggregator, "enclave");
        for (uint256 i = 0; i < SLOTS; i++) {
            registry.admitMember(_hospital(i), IConsortiumRegistry.Role.Hospital, "h");
        }
    }

    // --- helpers ----------------------------------------------------------------------------------------

    /// @dev Only the creation itself is a call (no precompile call before it), so that expectRevert applies to it.
    function _deploy(uint256 chunks, uint256[2][] memory genesis) internal returns (RoundManager) {
        return new RoundManager(
            IConsortiumRegistry(address(registry)),
            IHalo2Verifier(address(median)),
            IHalo2Verifier(address(norm)),
            IRoundManager.CommitmentScheme(SLOTS, 30, 10, chunks, SCALE_BITS, kPoint, keccak256("basis")),
            genesis,
            "genesis",
            "circuit"
        );
    }

    function _hospital(uint256 i) internal pure returns (address) {
        return address(uint160(0x1000 + i));
    }

    function _openBounded(uint256 boundSq) internal returns (uint256) {
        return rm.openRoundWithPolicy(
            uint64(block.timestamp + 1 days), 1, IRoundManager.AggregationRule.FedAvg, boundSq
        );
    }

    /// @dev Discrete logs of an update's chunk points: 1000 + 10 seed + c (never K, genesis or another seed's).
    function _logs(uint256 seed) internal pure returns (uint256[] memory logs) {
        logs = new uint256[](CHUNKS);
        for (uint256 c = 0; c < CHUNKS; c++) {
            logs[c] = 1000 + 10 * seed + c;
        }
    }

    /// @dev [ss, chunk, chunks, the five 32-bit limbs of `who`], the chunk circuit's instances.
    function _instances(uint256 ss, uint256 chunk, address who) internal pure returns (uint256[] memory inst) {
        inst = new uint256[](8);
        inst[0] = ss;
        inst[1] = chunk;
        inst[2] = CHUNKS;
        for (uint256 i = 0; i < 5; i++) {
            inst[3 + i] = (uint256(uint160(who)) >> (32 * i)) & 0xffffffff;
        }
    }

    /// @dev A chunk proof's bytes: point 0 = C(2^13 u_c) for C(u_c) = uLog * G, point 1 = prevLog * G, a third
    /// point, then an opaque body.
    function _proof(uint256 uLog, uint256 prevLog) internal view returns (bytes memory) {
        return abi.encodePacked(
            G1.mulG(G1.scaled(K_LOG, uLog, SCALE_BITS)), G1.mulG(prevLog), G1.mulG(PAD_LOG), "chunk-proof-body"
        );
    }

    /// @dev keccak256 of C(2^13 u) for C(u) = uLog * G: the record an honest chunk proof leaves.
    function _scaledHash(uint256 uLog) internal view returns (bytes32) {
        return G1.hash(G1.mulG(G1.scaled(K_LOG, uLog, SCALE_BITS)));
    }

    /// @dev `h` proves chunk `chunk` of the update with chunk log `uLog` against the current model, honestly.
    function _prove(uint256 roundId, address h, uint256 chunk, uint256 uLog, uint256 ss) internal {
        bytes memory proof = _proof(uLog, modelLogs[chunk]);
        uint256[] memory inst = _instances(ss, chunk, h);
        vm.prank(h);
        rm.submitChunkProof(roundId, chunk, proof, inst);
    }

    function _proveAll(uint256 roundId, address h, uint256[] memory logs, uint256 ss) internal {
        for (uint256 c = 0; c < CHUNKS; c++) {
            _prove(roundId, h, c, logs[c], ss);
        }
    }

    /// @dev submitChunkProof(roundId, chunk, proof, inst) by `h` must revert with exactly `err`.
    function _proveReverts(
        uint256 roundId,
        address h,
        uint256 chunk,
        bytes memory proof,
        uint256[] memory inst,
        bytes memory err
    ) internal {
        vm.prank(h);
        vm.expectRevert(err);
        rm.submitChunkProof(roundId, chunk, proof, inst);
    }

    function _submit(uint256 roundId, address h, uint256[2][] memory commitment, uint64 samples) internal {
        vm.prank(h);
        rm.submitUpdate(roundId, commitment, "cid", samples);
    }

    function _submitReverts(uint256 roundId, address h, uint256[2][] memory commitment, bytes memory err) internal {
        vm.prank(h);
        vm.expectRevert(err);
        rm.submitUpdate(roundId, commitment, "cid", 10);
    }

    function _limb(address who, uint256 i) internal pure returns (uint256) {
        return (uint256(uint160(who)) >> (32 * i)) & 0xffffffff;
    }

    /// @dev The protocol's FedAvg weights, written out again here: over the free slots w_i = 1 + floor(n_i (R - |F|)
    /// / N), the remainder to the first free slot; a slot above the share cap ceil(2^13 / min(m, 3)) is capped and
    /// leaves the free set (R = 2^13 - cap * capped); repeated until none is above the cap.
    function _weights(uint64[] memory samples, uint256 mask) internal pure returns (uint256[] memory w) {
        w = new uint256[](SLOTS);
        uint256 one = uint256(1) << SCALE_BITS;
        bool[] memory free = new bool[](samples.length);
        uint256 m;
        for (uint256 i = 0; i < samples.length; i++) {
            free[i] = (mask >> i) & 1 == 0;
            if (free[i]) m += 1;
        }
        uint256 k = m < 3 ? m : 3;
        uint256 cap = (one + k - 1) / k;
        uint256 rest = one;
        for (uint256 n = _fill(w, samples, free, rest, cap); n != 0; n = _fill(w, samples, free, rest, cap)) {
            rest -= cap * n; // the slots capped in this step left the free set with `cap` units each
        }
    }

    /// @dev One water-filling step: `rest` units over the free slots, then every free slot above `cap` is capped and
    /// leaves the free set; returns how many were.
    function _fill(uint256[] memory w, uint64[] memory samples, bool[] memory free, uint256 rest, uint256 cap)
        internal
        pure
        returns (uint256 capped)
    {
        (uint256 total, uint256 f, uint256 first) = _freeSet(samples, free);
        uint256 sum;
        for (uint256 i = 0; i < free.length; i++) {
            if (free[i]) {
                w[i] = 1 + (samples[i] * (rest - f)) / total;
                sum += w[i];
            }
        }
        w[first] += rest - sum;
        for (uint256 i = 0; i < free.length; i++) {
            if (free[i] && w[i] > cap) {
                (w[i], free[i]) = (cap, false);
                capped += 1;
            }
        }
    }

    /// @dev The free slots' total count, number and first slot.
    function _freeSet(uint64[] memory samples, bool[] memory free)
        internal
        pure
        returns (uint256 total, uint256 f, uint256 first)
    {
        first = SLOTS;
        for (uint256 i = 0; i < samples.length; i++) {
            if (free[i]) {
                total += samples[i];
                f += 1;
                if (first == SLOTS) first = i;
            }
        }
    }

    /// @dev Per chunk c: log(K + sum_i w_i (C(u_ic) - K)) modulo the group order.
    function _aggregateLogs(uint256[][] memory logs, uint256[] memory w) internal pure returns (uint256[] memory a) {
        a = new uint256[](CHUNKS);
        for (uint256 c = 0; c < CHUNKS; c++) {
            a[c] = K_LOG;
            for (uint256 i = 0; i < logs.length; i++) {
                a[c] = addmod(a[c], mulmod(w[i], addmod(logs[i][c], G1.R - K_LOG, G1.R), G1.R), G1.R);
            }
        }
    }

    function _assertPoints(uint256[2][] memory actual, uint256[2][] memory expected, string memory what)
        internal
        pure
    {
        assertEq(actual.length, expected.length, string.concat(what, ": number of points"));
        for (uint256 c = 0; c < expected.length; c++) {
            assertEq(actual[c][0], expected[c][0], string.concat(what, ": x"));
            assertEq(actual[c][1], expected[c][1], string.concat(what, ": y"));
        }
    }

    // --- deployment -----------------------------------------------------------------------------------------

    function test_deployment() public {
        assertEq(rm.chunks(), CHUNKS, "chunks");
        uint256[2][] memory genesis = G1.mulGs(modelLogs);
        _assertPoints(rm.genesisModelCommitment(), genesis, "genesis commitment");
        assertEq(rm.modelOf(0), G1.hashPoints(genesis), "genesis hash: keccak of the packed points");
        assertTrue(rm.modelOf(0) != G1.hash(genesis[0]), "a chunked hash is not the first point's");

        uint256[2][] memory two = new uint256[2][](2);
        two[0] = genesis[0];
        two[1] = genesis[1];
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerWrongChunkCount.selector, CHUNKS, 2));
        _deploy(CHUNKS, two);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerWrongChunkCount.selector, 0, 0));
        _deploy(0, new uint256[2][](0));
        genesis[1] = [uint256(1), 3]; // off the curve
        vm.expectRevert(abi.encodeWithSignature("Bn254InvalidPoint(uint256,uint256)", 1, 3));
        _deploy(CHUNKS, genesis);
    }

    /// @notice A median round needs a one-point scheme; submitBoundedUpdate is the one-point norm path.
    function test_oneSchemeOnlyPaths() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoundManager.RoundManagerInvalidPolicy.selector, IRoundManager.AggregationRule.Median, 0
            )
        );
        rm.openRoundWithPolicy(uint64(block.timestamp + 1 days), 1, IRoundManager.AggregationRule.Median, 0);

        uint256 id = _openBounded(NORM_BOUND);
        uint256[2][] memory c = G1.mulGs(_logs(1));
        uint256[] memory inst = new uint256[](7);
        vm.prank(_hospital(0));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerWrongScheme.selector, CHUNKS));
        rm.submitBoundedUpdate(id, c, "cid", 10, "", inst);

        // and submitChunkProof is the chunked path: a one-point deployment refuses it
        RoundManager single = _deploy(1, G1.one(G1.mulG(11)));
        uint256 id1 = single.openRoundWithPolicy(
            uint64(block.timestamp + 1 days), 1, IRoundManager.AggregationRule.FedAvg, NORM_BOUND
        );
        bytes memory proof = _proof(1000, 11);
        inst = _instances(1, 0, _hospital(0));
        vm.prank(_hospital(0));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerWrongScheme.selector, 1));
        single.submitChunkProof(id1, 0, proof, inst);
    }

    // --- the happy path ---------------------------------------------------------------------------------------

    /// @notice Three hospitals prove their three chunks (in different orders), submit, and the round finalizes to
    /// C(S_c) = K + sum_i w_i (C(u_ic) - K) per chunk; the next round's chunk proofs must be bound to that model.
    function test_happyPathThenNextRound() public {
        uint256 id = _openBounded(NORM_BOUND);
        uint64[] memory samples = new uint64[](3);
        samples[0] = 10;
        samples[1] = 30;
        samples[2] = 60;
        uint256[][] memory logs = new uint256[][](3);
        for (uint256 i = 0; i < 3; i++) {
            logs[i] = _logs(i + 1);
            _proveInOrderAndSubmit(id, i, logs[i], samples[i]);
        }

        // weights, the aggregate with and without an exclusion, then finalization
        uint256[] memory w = _weights(samples, 0);
        uint256[] memory onChain = rm.expectedWeights(id, 0);
        for (uint256 i = 0; i < SLOTS; i++) {
            assertEq(onChain[i], w[i], "weight");
        }
        uint256[] memory aggregateLogs = _aggregateLogs(logs, w);
        uint256[2][] memory expected = G1.mulGs(aggregateLogs);
        _assertPoints(rm.aggregateCommitment(id, 0), expected, "aggregate");
        _assertPoints(
            rm.aggregateCommitment(id, 2), G1.mulGs(_aggregateLogs(logs, _weights(samples, 2))), "aggregate, mask 2"
        );
        vm.warp(block.timestamp + 2 days);
        vm.prank(AGGREGATOR);
        rm.finalizeRound(id, "model", 0);
        assertEq(rm.getRound(id).newModelHash, G1.hashPoints(expected), "stored model hash");
        (bytes32 current, uint256 modelRound) = rm.currentModel();
        assertEq(current, G1.hashPoints(expected), "current model");
        assertEq(modelRound, id, "current model round");

        _nextRoundBindsTo(aggregateLogs);
    }

    /// @dev Hospital i proves its chunks in order 0 1 2 (i = 0), 2 1 0 (i = 1), 2 0 1 (i = 2), with the accepted
    /// event and record checked each time, then submits.
    function _proveInOrderAndSubmit(uint256 id, uint256 i, uint256[] memory logs, uint64 samples) internal {
        address h = _hospital(i);
        for (uint256 k = 0; k < CHUNKS; k++) {
            uint256 c = i == 1 ? CHUNKS - 1 - k : (k + 2 * i) % CHUNKS;
            bytes memory proof = _proof(logs[c], modelLogs[c]);
            uint256[] memory inst = _instances(1000 * (c + 1), c, h);
            bytes32 pointHash = _scaledHash(logs[c]);
            vm.expectEmit();
            emit ChunkProofAccepted(id, h, c, 1000 * (c + 1), pointHash);
            vm.prank(h);
            rm.submitChunkProof(id, c, proof, inst);
            (bytes32 recorded, uint256 ss) = rm.chunkProof(id, h, c);
            assertEq(recorded, pointHash, "recorded point hash");
            assertEq(ss, 1000 * (c + 1), "recorded sum of squares");
        }
        _submit(id, h, G1.mulGs(logs), samples);
        IRoundManager.Submission memory sub = rm.getSubmission(id, i);
        assertEq(sub.hospital, h, "submitter");
        _assertPoints(sub.commitment, G1.mulGs(logs), "stored commitment");
    }

    /// @dev The next bounded round: a proof against the old model's chunk is stale; the new model's chunks (discrete
    /// logs `newModel`) are what it must carry.
    function _nextRoundBindsTo(uint256[] memory newModel) internal {
        uint256 id2 = _openBounded(NORM_BOUND);
        assertEq(rm.getRound(id2).prevModelHash, G1.hashPoints(G1.mulGs(newModel)), "previous model of round 2");
        uint256[] memory next = _logs(7);
        address h0 = _hospital(0);
        bytes memory stale = _proof(next[0], modelLogs[0]);
        uint256[] memory inst0 = _instances(5, 0, h0);
        bytes memory err = abi.encodeWithSelector(
            IRoundManager.RoundManagerProofPointMismatch.selector,
            id2,
            1,
            G1.hash(G1.mulG(newModel[0])),
            G1.hash(G1.mulG(modelLogs[0]))
        );
        _proveReverts(id2, h0, 0, stale, inst0, err);
        modelLogs = newModel;
        _proveAll(id2, h0, next, 5);
        _submit(id2, h0, G1.mulGs(next), 10);
        assertEq(rm.getRound(id2).submissionCount, 1, "round 2 submission");
    }

    /// @notice An unbounded chunked round takes updates without chunk proofs, and aggregates chunk by chunk.
    function test_unboundedRoundNeedsNoChunkProofs() public {
        uint256 id = rm.openRoundWithPolicy(uint64(block.timestamp + 1 days), 2, IRoundManager.AggregationRule.FedAvg, 0);
        uint64[] memory samples = new uint64[](2);
        samples[0] = 1;
        samples[1] = 999_999;
        uint256[][] memory logs = new uint256[][](2);
        for (uint256 i = 0; i < 2; i++) {
            logs[i] = _logs(i + 20);
            _submit(id, _hospital(i), G1.mulGs(logs[i]), samples[i]);
        }
        vm.warp(block.timestamp + 2 days);
        vm.prank(AGGREGATOR);
        rm.finalizeRound(id, "model", 0);
        uint256[2][] memory expected = G1.mulGs(_aggregateLogs(logs, _weights(samples, 0)));
        assertEq(rm.modelOf(id), G1.hashPoints(expected), "stored model hash");
    }

    /// @notice A rolled-back model is no longer the previous model: the next round binds to the one before.
    function test_rollbackRebindsChunkProofs() public {
        vm.roll(block.number + 1); // members admitted before the round opened: entitled to report its model
        uint256 id = rm.openRoundWithPolicy(uint64(block.timestamp + 1 days), 1, IRoundManager.AggregationRule.FedAvg, 0);
        uint256[][] memory logs = new uint256[][](1);
        logs[0] = _logs(30);
        _submit(id, _hospital(0), G1.mulGs(logs[0]), 10);
        vm.warp(block.timestamp + 2 days);
        vm.prank(AGGREGATOR);
        rm.finalizeRound(id, "model", 0);
        (,, uint256 threshold) = rm.roundOpening(id);
        for (uint256 i = 1; i <= threshold; i++) {
            vm.prank(_hospital(i));
            rm.reportModelUnavailable(id); // a strict majority of the members at opening: rolled back
        }
        assertEq(uint256(rm.getRound(id).phase), uint256(IRoundManager.Phase.RolledBack), "rolled back");

        uint256 id2 = _openBounded(NORM_BOUND);
        uint256[] memory single = new uint256[](1);
        single[0] = 1 << SCALE_BITS; // one update takes the whole weight 2^13
        uint256[] memory finalized = _aggregateLogs(logs, single);
        assertEq(rm.modelOf(id), G1.hashPoints(G1.mulGs(finalized)), "the rolled-back model");
        bytes memory proof = _proof(2000, finalized[1]);
        uint256[] memory inst = _instances(5, 1, _hospital(2));
        _proveReverts(
            id2,
            _hospital(2),
            1,
            proof,
            inst,
            abi.encodeWithSelector(
                IRoundManager.RoundManagerProofPointMismatch.selector,
                id2,
                1,
                G1.hash(G1.mulG(modelLogs[1])),
                G1.hash(G1.mulG(finalized[1]))
            )
        );
        _prove(id2, _hospital(2), 1, 2000, 5); // against genesis chunk 1 again
    }

    // --- submitChunkProof: bindings --------------------------------------------------------------------------

    /// @notice A proof whose instances name another chunk index, or another chunk total, is refused.
    function test_proofForAnotherChunkIndex() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        bytes memory proof = _proof(1000, modelLogs[0]);
        uint256[] memory inst = _instances(5, 1, h); // a chunk-1 statement sent as chunk 0
        _proveReverts(
            id, h, 0, proof, inst,
            abi.encodeWithSelector(IRoundManager.RoundManagerNormProofMismatch.selector, id, 1, 0, 1)
        );
        inst = _instances(5, 0, h);
        inst[2] = CHUNKS - 1; // made for a 2-chunk scheme
        _proveReverts(
            id, h, 0, proof, inst,
            abi.encodeWithSelector(IRoundManager.RoundManagerNormProofMismatch.selector, id, 2, CHUNKS, CHUNKS - 1)
        );
        // an honest chunk-1 proof (instances and points) sent as chunk 0: its point 1 is genesis chunk 1
        proof = _proof(1001, modelLogs[1]);
        inst = _instances(5, 0, h);
        _proveReverts(
            id, h, 0, proof, inst,
            abi.encodeWithSelector(
                IRoundManager.RoundManagerProofPointMismatch.selector,
                id,
                1,
                G1.hash(G1.mulG(modelLogs[0])),
                G1.hash(G1.mulG(modelLogs[1]))
            )
        );
    }

    /// @notice Another hospital's proof (its address limbs) is refused, whichever limb differs.
    function test_anotherHospitalsProof() public {
        uint256 id = _openBounded(NORM_BOUND);
        address owner = _hospital(0);
        address thief = address(uint160((uint256(0xFFFFFFFF) << 128) | 0x1000)); // differs from owner in limb 4 only
        registry.admitMember(thief, IConsortiumRegistry.Role.Hospital, "thief");
        bytes memory proof = _proof(1000, modelLogs[0]);
        uint256[] memory inst = _instances(5, 0, owner);
        _proveReverts(
            id, _hospital(1), 0, proof, inst,
            abi.encodeWithSelector(
                IRoundManager.RoundManagerNormProofMismatch.selector, id, 3, _limb(_hospital(1), 0), _limb(owner, 0)
            )
        );
        _proveReverts(
            id, thief, 0, proof, inst,
            abi.encodeWithSelector(
                IRoundManager.RoundManagerNormProofMismatch.selector, id, 7, _limb(thief, 4), _limb(owner, 4)
            )
        );
        vm.prank(owner);
        rm.submitChunkProof(id, 0, proof, inst);
    }

    /// @notice The public sum of squares must be below NORM_RANGE (a field-negative value is not a sum of squares).
    function test_chunkSumOutOfRange() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        bytes memory proof = _proof(1000, modelLogs[0]);
        uint256 range = rm.NORM_RANGE();
        uint256[3] memory bad = [range, G1.R - 1, type(uint256).max];
        for (uint256 i = 0; i < bad.length; i++) {
            uint256[] memory inst = _instances(bad[i], 0, h);
            _proveReverts(
                id, h, 0, proof, inst,
                abi.encodeWithSelector(IRoundManager.RoundManagerChunkSumOutOfRange.selector, id, 0, bad[i])
            );
        }
        _prove(id, h, 0, 1000, range - 1);
        (, uint256 ss) = rm.chunkProof(id, h, 0);
        assertEq(ss, range - 1, "largest sum of squares in range");
    }

    /// @notice Exactly eight instances.
    function test_wrongInstanceCount() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        bytes memory proof = _proof(1000, modelLogs[0]);
        uint256[3] memory lengths = [uint256(0), 7, 9];
        for (uint256 i = 0; i < lengths.length; i++) {
            uint256[] memory inst = new uint256[](lengths[i]);
            _proveReverts(
                id, h, 0, proof, inst,
                abi.encodeWithSelector(IRoundManager.RoundManagerWrongInstanceCount.selector, 8, lengths[i])
            );
        }
    }

    /// @notice A chunk index past the last chunk is refused.
    function test_chunkIndexOutOfRange() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        bytes memory proof = _proof(1000, modelLogs[0]);
        for (uint256 chunk = CHUNKS; chunk < CHUNKS + 2; chunk++) {
            uint256[] memory inst = _instances(5, chunk, h);
            _proveReverts(
                id, h, chunk, proof, inst,
                abi.encodeWithSelector(IRoundManager.RoundManagerChunkIndexOutOfRange.selector, chunk, CHUNKS)
            );
        }
    }

    /// @notice The largest index gets the typed revert too (an earlier `chunk + 1` in the error overflowed).
    function test_chunkIndexMaxIsTypedRevert() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        bytes memory proof = _proof(1000, modelLogs[0]);
        uint256[] memory inst = _instances(5, 0, h);
        vm.prank(h);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoundManager.RoundManagerChunkIndexOutOfRange.selector, type(uint256).max, CHUNKS
            )
        );
        rm.submitChunkProof(id, type(uint256).max, proof, inst);
    }

    /// @notice Point 1 must be the previous model's chunk of this index; a proof too short to hold it is refused.
    function test_point1NotPreviousModelChunk() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        uint256[] memory inst = _instances(5, 2, h);
        bytes32 expected = G1.hash(G1.mulG(modelLogs[2]));
        bytes memory proof = _proof(1002, modelLogs[0]); // genesis chunk 0 instead of chunk 2
        _proveReverts(
            id, h, 2, proof, inst,
            abi.encodeWithSelector(
                IRoundManager.RoundManagerProofPointMismatch.selector, id, 1, expected, G1.hash(G1.mulG(modelLogs[0]))
            )
        );
        proof = abi.encodePacked(G1.mulG(G1.scaled(K_LOG, 1002, SCALE_BITS))); // one point only
        _proveReverts(
            id, h, 2, proof, inst,
            abi.encodeWithSelector(
                IRoundManager.RoundManagerProofPointMismatch.selector, id, 1, expected, G1.hash([uint256(0), 0])
            )
        );
    }

    /// @notice The verifier's rejection (false or a revert) is the contract's NormProofRejected.
    function test_verifierRejects() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        bytes memory proof = _proof(1000, modelLogs[0]);
        uint256[] memory inst = _instances(5, 0, h);
        bytes memory err = abi.encodeWithSelector(IRoundManager.RoundManagerNormProofRejected.selector, id, h);
        norm.set(false, false);
        _proveReverts(id, h, 0, proof, inst, err);
        norm.set(true, true);
        _proveReverts(id, h, 0, proof, inst, err);
        (bytes32 recorded,) = rm.chunkProof(id, h, 0);
        assertEq(recorded, bytes32(0), "a rejected proof left a record");
    }

    // --- submitChunkProof: round state and caller ---------------------------------------------------------

    function test_chunkProofRoundStateAndCaller() public {
        address h = _hospital(0);
        bytes memory proof = _proof(1000, modelLogs[0]);
        uint256[] memory inst = _instances(5, 0, h);
        // no round yet
        _proveReverts(
            1, h, 0, proof, inst,
            abi.encodeWithSelector(
                IRoundManager.RoundManagerWrongPhase.selector, 1, IRoundManager.Phase.Open, IRoundManager.Phase.None
            )
        );
        // an unbounded round
        uint256 id = rm.openRoundWithPolicy(uint64(block.timestamp + 1 days), 1, IRoundManager.AggregationRule.FedAvg, 0);
        _proveReverts(id, h, 0, proof, inst, abi.encodeWithSelector(IRoundManager.RoundManagerNoNormBound.selector, id));
        vm.warp(block.timestamp + 2 days);
        rm.abortRound(id);

        // a bounded one: a non-member, then after the deadline
        id = _openBounded(NORM_BOUND);
        uint256[] memory outsiderInst = _instances(5, 0, OUTSIDER);
        _proveReverts(
            id, OUTSIDER, 0, proof, outsiderInst,
            abi.encodeWithSelector(IRoundManager.RoundManagerNotHospital.selector, OUTSIDER)
        );
        uint64 deadline = rm.getRound(id).deadline;
        vm.warp(uint256(deadline) + 1);
        _proveReverts(
            id, h, 0, proof, inst,
            abi.encodeWithSelector(IRoundManager.RoundManagerDeadlinePassed.selector, id, deadline, uint256(deadline) + 1)
        );
        vm.warp(deadline);
        _prove(id, h, 0, 1000, 5); // at the deadline itself: still open
    }

    /// @notice Once a hospital has submitted, its chunk records are final.
    function test_chunkProofAfterSubmitting() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        uint256[] memory logs = _logs(1);
        _proveAll(id, h, logs, 5);
        _submit(id, h, G1.mulGs(logs), 10);
        bytes memory proof = _proof(4000, modelLogs[1]);
        uint256[] memory inst = _instances(5, 1, h);
        _proveReverts(
            id, h, 1, proof, inst, abi.encodeWithSelector(IRoundManager.RoundManagerAlreadySubmitted.selector, id, h)
        );
        (bytes32 recorded,) = rm.chunkProof(id, h, 1);
        assertEq(recorded, _scaledHash(logs[1]), "record unchanged");
    }

    /// @notice Chunk records belong to their round: an aborted round's proofs do not carry over.
    function test_chunkRecordsArePerRound() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        uint256[] memory logs = _logs(1);
        _proveAll(id, h, logs, 5);
        vm.warp(block.timestamp + 2 days);
        rm.abortRound(id);
        uint256 id2 = _openBounded(NORM_BOUND);
        _submitReverts(
            id2, h, G1.mulGs(logs),
            abi.encodeWithSelector(IRoundManager.RoundManagerChunkProofMissing.selector, id2, h, 0)
        );
    }

    // --- submitUpdate in a bounded chunked round ---------------------------------------------------------------

    /// @notice Every chunk needs a record; the first missing one is named.
    function test_missingChunk() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        uint256[] memory logs = _logs(1);
        uint256[2][] memory c = G1.mulGs(logs);
        _submitReverts(id, h, c, abi.encodeWithSelector(IRoundManager.RoundManagerChunkProofMissing.selector, id, h, 0));
        _prove(id, h, 0, logs[0], 5);
        _prove(id, h, 2, logs[2], 5);
        _submitReverts(id, h, c, abi.encodeWithSelector(IRoundManager.RoundManagerChunkProofMissing.selector, id, h, 1));
        // another hospital's records do not count
        _proveAll(id, _hospital(1), logs, 5);
        _submitReverts(id, h, c, abi.encodeWithSelector(IRoundManager.RoundManagerChunkProofMissing.selector, id, h, 1));
        _prove(id, h, 1, logs[1], 5);
        _submit(id, h, c, 10);
    }

    /// @notice Records of u_0, u_1, u_2 do not cover the list [u_1, u_0, u_2].
    function test_reorderedCommitment() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        uint256[] memory logs = _logs(1);
        _proveAll(id, h, logs, 5);
        uint256[] memory swapped = new uint256[](CHUNKS);
        (swapped[0], swapped[1], swapped[2]) = (logs[1], logs[0], logs[2]);
        _submitReverts(
            id, h, G1.mulGs(swapped),
            abi.encodeWithSelector(
                IRoundManager.RoundManagerProofPointMismatch.selector, id, 0, _scaledHash(logs[1]), _scaledHash(logs[0])
            )
        );
        (swapped[0], swapped[1], swapped[2]) = (logs[0], logs[2], logs[1]);
        _submitReverts(
            id, h, G1.mulGs(swapped),
            abi.encodeWithSelector(
                IRoundManager.RoundManagerProofPointMismatch.selector, id, 1, _scaledHash(logs[2]), _scaledHash(logs[1])
            )
        );
        _submit(id, h, G1.mulGs(logs), 10);
    }

    /// @notice The chunks' sums of squares add up to at most the bound (exactly the bound passes).
    function test_sumAboveBound() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        uint256[] memory logs = _logs(1);
        uint256 third = NORM_BOUND / 3;
        _prove(id, h, 0, logs[0], third);
        _prove(id, h, 1, logs[1], third);
        _prove(id, h, 2, logs[2], NORM_BOUND - 2 * third + 1);
        uint256[2][] memory c = G1.mulGs(logs);
        _submitReverts(
            id, h, c, abi.encodeWithSelector(IRoundManager.RoundManagerNormBoundExceeded.selector, id, h, NORM_BOUND)
        );
        _prove(id, h, 2, logs[2], NORM_BOUND - 2 * third); // re-proved: the later record replaces the earlier
        _submit(id, h, c, 10);
    }

    /// @notice Every chunk of every chunk proof is below NORM_RANGE, yet their sum is not: still one bound.
    function test_sumOfLargeChunksAboveBound() public {
        uint256 boundSq = rm.NORM_RANGE() - 1;
        uint256 id = _openBounded(boundSq);
        address h = _hospital(0);
        uint256[] memory logs = _logs(1);
        _proveAll(id, h, logs, boundSq);
        _submitReverts(
            id, h, G1.mulGs(logs),
            abi.encodeWithSelector(IRoundManager.RoundManagerNormBoundExceeded.selector, id, h, boundSq)
        );
    }

    /// @notice Re-proving a chunk replaces its record: a stale point no longer matches.
    function test_reprovingReplacesRecord() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        uint256[] memory logs = _logs(1);
        _proveAll(id, h, logs, 5);
        _prove(id, h, 1, 7777, 6);
        (bytes32 recorded, uint256 ss) = rm.chunkProof(id, h, 1);
        assertEq(recorded, _scaledHash(7777), "replaced point");
        assertEq(ss, 6, "replaced sum");
        _submitReverts(
            id, h, G1.mulGs(logs),
            abi.encodeWithSelector(
                IRoundManager.RoundManagerProofPointMismatch.selector, id, 1, _scaledHash(logs[1]), _scaledHash(7777)
            )
        );
        logs[1] = 7777;
        _submit(id, h, G1.mulGs(logs), 10);
    }

    /// @notice A commitment has exactly chunks() points, bounded round or not.
    function test_wrongNumberOfPoints() public {
        uint256[] memory logs = _logs(1);
        uint256[2][] memory full = G1.mulGs(logs);
        uint256 id = _openBounded(NORM_BOUND);
        _proveAll(id, _hospital(0), logs, 5);
        uint256[4] memory counts = [uint256(0), 1, 2, 4];
        for (uint256 k = 0; k < counts.length; k++) {
            uint256[2][] memory c = new uint256[2][](counts[k]);
            for (uint256 j = 0; j < counts[k]; j++) {
                c[j] = j < CHUNKS ? full[j] : G1.mulG(9999);
            }
            _submitReverts(
                id, _hospital(0), c,
                abi.encodeWithSelector(IRoundManager.RoundManagerWrongChunkCount.selector, CHUNKS, counts[k])
            );
        }
        vm.warp(block.timestamp + 2 days);
        rm.abortRound(id);
        id = rm.openRoundWithPolicy(uint64(block.timestamp + 1 days), 1, IRoundManager.AggregationRule.FedAvg, 0);
        _submitReverts(
            id, _hospital(0), G1.one(full[0]),
            abi.encodeWithSelector(IRoundManager.RoundManagerWrongChunkCount.selector, CHUNKS, 1)
        );
    }

    /// @notice Each point of the list is checked: off the curve, K, a point used before (in any chunk of any
    /// submission), the same point twice in one list.
    function test_pointChecksPerChunk() public {
        uint256 id = rm.openRoundWithPolicy(uint64(block.timestamp + 1 days), 1, IRoundManager.AggregationRule.FedAvg, 0);
        uint256[] memory logs = _logs(1);
        uint256[2][] memory c = G1.mulGs(logs);
        c[2] = kPoint;
        _submitReverts(
            id, _hospital(0), c,
            abi.encodeWithSelector(IRoundManager.RoundManagerInvalidCommitment.selector, kPoint[0], kPoint[1])
        );
        c[2] = [uint256(1), 3];
        _submitReverts(
            id, _hospital(0), c, abi.encodeWithSelector(IRoundManager.RoundManagerInvalidCommitment.selector, 1, 3)
        );
        c = G1.mulGs(logs);
        uint256[2] memory dup = c[0];
        c[1] = dup;
        _submitReverts(
            id, _hospital(0), c,
            abi.encodeWithSelector(IRoundManager.RoundManagerInvalidCommitment.selector, dup[0], dup[1])
        );
        _submit(id, _hospital(0), G1.mulGs(logs), 10);
        // hospital 1 reuses hospital 0's chunk 0 as its chunk 2
        uint256[] memory other = _logs(2);
        other[2] = logs[0];
        _submitReverts(
            id, _hospital(1), G1.mulGs(other),
            abi.encodeWithSelector(IRoundManager.RoundManagerInvalidCommitment.selector, dup[0], dup[1])
        );
    }

    /// @notice The same point twice in a bounded round: both chunk proofs are honest for it, the list is refused.
    function test_samePointTwiceBounded() public {
        uint256 id = _openBounded(NORM_BOUND);
        address h = _hospital(0);
        uint256[] memory logs = _logs(1);
        logs[1] = logs[0];
        _proveAll(id, h, logs, 5);
        uint256[2] memory p = G1.mulG(logs[0]);
        _submitReverts(
            id, h, G1.mulGs(logs), abi.encodeWithSelector(IRoundManager.RoundManagerInvalidCommitment.selector, p[0], p[1])
        );
        assertEq(rm.getRound(id).submissionCount, 0, "no submission");
    }

    // --- fuzz --------------------------------------------------------------------------------------------------

    /// @notice Random chunk orders, re-proving (honest, another chunk's point, a fresh point; any sum of squares)
    /// and a possibly permuted commitment list: submitUpdate succeeds iff every chunk's latest record is
    /// C(2^13 u_c) of the list's chunk c and the latest sums add up to at most the bound; otherwise it reverts
    /// with the error of the first failing check (missing record, point mismatch, then the bound).
    function testFuzz_chunkOrderAndReproving(uint256 seed, uint256 boundSeed) public {
        uint256 boundSq = bound(boundSeed, 1, rm.NORM_RANGE() - 1);
        uint256 id = _openBounded(boundSq);
        address h = _hospital(0);
        uint256[] memory u = _logs(1);
        (bytes32[] memory rec, uint256[] memory ss) = _randomChunkProofs(id, h, u, seed, boundSq);

        // the list: mostly in order, else one of the other five permutations
        uint256[] memory order = new uint256[](CHUNKS);
        uint256 perm = (seed >> 24) % 12;
        perm = perm < 7 ? 0 : perm - 6;
        for (uint256 c = 0; c < CHUNKS; c++) {
            order[c] = u[_permute(perm, c)];
        }
        bytes memory err = _expectedError(id, h, order, rec, ss, boundSq);
        uint256[2][] memory commitment = G1.mulGs(order);
        if (err.length != 0) {
            _submitReverts(id, h, commitment, err);
            assertEq(rm.getRound(id).submissionCount, 0, "refused submission counted");
        } else {
            _submit(id, h, commitment, 10);
            assertEq(rm.getRound(id).submissionCount, 1, "accepted submission");
            _assertPoints(rm.getSubmission(id, 0).commitment, commitment, "stored commitment");
        }
    }

    /// @dev A first pass over the chunks in a random order (one chunk sometimes left out), then 0..7 random
    /// re-proofs; returns each chunk's latest record (point hash, sum of squares) as the test expects it.
    function _randomChunkProofs(uint256 id, address h, uint256[] memory u, uint256 seed, uint256 boundSq)
        internal
        returns (bytes32[] memory rec, uint256[] memory ss)
    {
        rec = new bytes32[](CHUNKS);
        ss = new uint256[](CHUNKS);
        uint256 steps = CHUNKS + (seed >> 16) % 8;
        for (uint256 s = 0; s < steps; s++) {
            (bool skip, uint256 chunk, uint256 log, uint256 sum) = _step(seed, s, u, boundSq);
            if (skip) continue;
            _prove(id, h, chunk, log, sum);
            rec[chunk] = _scaledHash(log);
            ss[chunk] = sum;
        }
    }

    /// @dev Step `s` of `_randomChunkProofs`: steps 0..2 visit every chunk from a random start, forwards or
    /// backwards, honestly (one of them skipped one time in four); later steps re-prove a random chunk: 5 in 8
    /// honestly, 2 in 8 with another chunk's point, 1 in 8 with a fresh point. The sum of squares is mostly at
    /// most a third of the bound (three fit), one time in four anything up to the bound.
    function _step(uint256 seed, uint256 s, uint256[] memory u, uint256 boundSq)
        internal
        pure
        returns (bool skip, uint256 chunk, uint256 log, uint256 sum)
    {
        uint256 r = uint256(keccak256(abi.encode(seed, s)));
        if (s < CHUNKS) {
            uint256 start = seed % CHUNKS;
            chunk = (seed >> 8) & 1 == 1 ? (start + CHUNKS - s) % CHUNKS : (start + s) % CHUNKS;
            skip = (seed >> 9) % 4 == 0 && chunk == (seed >> 12) % CHUNKS;
            log = u[chunk];
        } else {
            chunk = r % CHUNKS;
            uint256 kind = (r >> 8) % 8;
            log = kind < 5 ? u[chunk] : kind < 7 ? u[(chunk + 1 + (r >> 12) % 2) % CHUNKS] : 5000 + s;
        }
        sum = (r >> 32) % 4 == 0 ? (r >> 64) % (boundSq + 1) : (r >> 64) % (boundSq / CHUNKS + 1);
    }

    /// @dev The revert submitUpdate(order) must give (empty: none), from the records as the test tracked them:
    /// the first chunk without a record or with another point, else the bound.
    function _expectedError(
        uint256 id,
        address h,
        uint256[] memory order,
        bytes32[] memory rec,
        uint256[] memory ss,
        uint256 boundSq
    ) internal view returns (bytes memory) {
        uint256 total;
        for (uint256 c = 0; c < CHUNKS; c++) {
            bytes32 expected = _scaledHash(order[c]);
            if (rec[c] == bytes32(0)) {
                return abi.encodeWithSelector(IRoundManager.RoundManagerChunkProofMissing.selector, id, h, c);
            }
            if (rec[c] != expected) {
                return abi.encodeWithSelector(
                    IRoundManager.RoundManagerProofPointMismatch.selector, id, c, expected, rec[c]
                );
            }
            total += ss[c];
        }
        if (total > boundSq) {
            return abi.encodeWithSelector(IRoundManager.RoundManagerNormBoundExceeded.selector, id, h, boundSq);
        }
        return "";
    }

    /// @dev Permutation `perm` (0: identity, 1..5 the others) of (0, 1, 2), at position c.
    function _permute(uint256 perm, uint256 c) internal pure returns (uint256) {
        uint8[3][6] memory table = [[0, 1, 2], [1, 0, 2], [0, 2, 1], [2, 1, 0], [1, 2, 0], [2, 0, 1]];
        return table[perm][c];
    }
}
