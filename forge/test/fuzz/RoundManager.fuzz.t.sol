// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {ConsortiumRegistry} from "@zkfl/ConsortiumRegistry.sol";
import {IConsortiumRegistry} from "@zkfl/interfaces/IConsortiumRegistry.sol";
import {IHalo2Verifier} from "@zkfl/interfaces/IHalo2Verifier.sol";
import {IRoundManager} from "@zkfl/interfaces/IRoundManager.sol";
import {IRoundManagerExclusionEvents} from "@zkfl/interfaces/IRoundManagerExclusionEvents.sol";
import {RoundManager} from "@zkfl/RoundManager.sol";
import {ScriptedVerifier} from "../mocks/ScriptedVerifier.sol";
import {G1} from "../utils/G1.sol";
import {ForgeTest} from "../utils/Vm.sol";

/// @title RoundManagerFuzzTest
/// @notice Stateless fuzzing of RoundManager's entry points: commitments, sample counts, CIDs, exclusion masks,
/// weights, norm-proof bindings.
contract RoundManagerFuzzTest is ForgeTest {
    uint256 internal constant SLOTS = 5;
    uint256 internal constant K_LOG = 7;
    address internal constant AGGREGATOR = address(0xA66);

    ConsortiumRegistry internal registry;
    ScriptedVerifier internal norm;
    RoundManager internal rm;

    function setUp() public {
        vm.warp(1_700_000_000);
        registry = new ConsortiumRegistry(address(this));
        norm = new ScriptedVerifier();
        rm = new RoundManager(
            IConsortiumRegistry(address(registry)),
            IHalo2Verifier(address(new ScriptedVerifier())),
            IHalo2Verifier(address(norm)),
            IRoundManager.CommitmentScheme(SLOTS, 31, 10, 1, 13, G1.mulG(K_LOG), keccak256("basis"), 0),
            G1.one(G1.mulG(11)),
            "genesis",
            "circuit"
        );
        registry.admitMember(AGGREGATOR, IConsortiumRegistry.Role.Aggregator, "enclave");
        for (uint256 i = 0; i < SLOTS; i++) {
            registry.admitMember(_hospital(i), IConsortiumRegistry.Role.Hospital, "h");
        }
    }

    function _hospital(uint256 i) internal pure returns (address) {
        return address(uint160(0x1000 + i));
    }

    function _cid(uint256 length) internal pure returns (string memory) {
        bytes memory b = new bytes(length);
        for (uint256 i = 0; i < length; i++) {
            b[i] = "c";
        }
        return string(b);
    }

    function _open() internal returns (uint256) {
        return rm.openRoundWithPolicy(uint64(block.timestamp + 1 days), 1, IRoundManager.AggregationRule.FedAvg, 0);
    }

    function _invalidCommitment(uint256 x, uint256 y) internal {
        _invalidCommitment(_open(), x, y);
    }

    function _invalidCommitment(uint256 id, uint256 x, uint256 y) internal {
        vm.prank(_hospital(0));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerInvalidCommitment.selector, x, y));
        rm.submitUpdate(id, G1.one([x, y]), "cid", 10, _noClaim());
        vm.prank(_hospital(0));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerInvalidCommitment.selector, x, y));
        rm.submitUpdate(id, G1.one([x, y]), "cid", 10, _claim(1 << 30, ""));
    }

    /// @notice Random coordinates: off the curve (almost always) -> RoundManagerInvalidCommitment.
    function testFuzz_randomCoordinatesRevert(uint256 x, uint256 y) public {
        vm.assume(!G1.isCanonicalPoint(x, y));
        _invalidCommitment(x, y);
    }

    /// @notice A point of the curve written with x + p or y + p (the same point mod p, non-canonical) reverts.
    function testFuzz_nonCanonicalCoordinatesRevert(uint256 s, bool shiftY) public {
        uint256[2] memory c = G1.mulG(bound(s, 1, G1.R - 1));
        if (shiftY) {
            vm.assume(c[1] <= type(uint256).max - G1.P);
            c[1] += G1.P;
        } else {
            vm.assume(c[0] <= type(uint256).max - G1.P);
            c[0] += G1.P;
        }
        _invalidCommitment(c[0], c[1]);
    }

    /// @notice Infinity, K (an all-zero update) and a replayed commitment revert.
    function testFuzz_infinityZeroAndReplayRevert(uint256 s) public {
        uint256 id = _open();
        _invalidCommitment(id, 0, 0);
        uint256[2] memory k = G1.mulG(K_LOG);
        vm.prank(_hospital(0));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerInvalidCommitment.selector, k[0], k[1]));
        rm.submitUpdate(id, G1.one(k), "cid", 10, _noClaim());
        uint256 log = bound(s, 1, G1.R - 1);
        vm.assume(log != K_LOG);
        uint256[2] memory c = G1.mulG(log);
        vm.prank(_hospital(0));
        rm.submitUpdate(id, G1.one(c), "cid", 10, _noClaim());
        vm.prank(_hospital(1));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerInvalidCommitment.selector, c[0], c[1]));
        rm.submitUpdate(id, G1.one(c), "cid", 10, _noClaim());
    }

    /// @notice Any multiple of the generator but K is accepted; the sample count must be 1..MAX_SAMPLE_COUNT and
    /// the CID 1..MAX_CID_LENGTH bytes.
    function testFuzz_submitUpdate(uint256 s, uint64 samples, uint8 cidLength) public {
        uint256 log = bound(s, 1, G1.R - 1);
        vm.assume(log != K_LOG);
        uint256 id = _open();
        uint256[2] memory c = G1.mulG(log);
        string memory cid = _cid(cidLength);
        uint64 maxSamples = rm.MAX_SAMPLE_COUNT();
        uint256 maxCid = rm.MAX_CID_LENGTH();
        if (samples == 0 || samples > maxSamples) {
            vm.expectRevert(
                abi.encodeWithSelector(IRoundManager.RoundManagerInvalidSampleCount.selector, samples, maxSamples)
            );
        } else if (cidLength == 0) {
            vm.expectRevert(IRoundManager.RoundManagerEmptyCid.selector);
        } else if (cidLength > maxCid) {
            vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerCidTooLong.selector, cidLength, maxCid));
        }
        vm.prank(_hospital(2)); // last: a call in between (even to a precompile) would take the prank
        rm.submitUpdate(id, G1.one(c), cid, samples, _noClaim());
        if (samples != 0 && samples <= maxSamples && cidLength != 0 && cidLength <= maxCid) {
            IRoundManager.Submission memory sub = rm.getSubmission(id, 0);
            assertEq(sub.hospital, _hospital(2), "hospital");
            assertEq(sub.sampleCount, samples, "samples");
            assertEq(rm.getRound(id).submissionCount, 1, "count");
        }
    }

    /// @notice A one-point scheme takes exactly one point (chunks() == 1), on both submission paths; its model hash
    /// is keccak256(x || y) of that point (testFuzz_weightsAndAggregate).
    function testFuzz_onePointSchemeWrongPointCount(uint8 nSeed, uint256 s) public {
        assertEq(rm.chunks(), 1, "chunks");
        uint256 n = bound(nSeed, 0, 4);
        vm.assume(n != 1);
        uint256 id = _open();
        uint256[2][] memory c = new uint256[2][](n);
        for (uint256 i = 0; i < n; i++) {
            c[i] = G1.mulG(bound(uint256(keccak256(abi.encode(s, i))), K_LOG + 1, G1.R - 1));
        }
        bytes memory err = abi.encodeWithSelector(IRoundManager.RoundManagerWrongChunkCount.selector, 1, n);
        vm.prank(_hospital(0));
        vm.expectRevert(err);
        rm.submitUpdate(id, c, "cid", 10, _noClaim());
        vm.prank(_hospital(0));
        vm.expectRevert(err);
        rm.submitUpdate(id, c, "cid", 10, _claim(1 << 30, ""));
    }

    /// @notice A non-member never submits, whatever it sends.
    function testFuzz_nonMemberCannotSubmit(address who, uint256 s) public {
        vm.assume(!registry.isHospital(who));
        uint256 id = _open();
        uint256[2] memory c = G1.mulG(bound(s, 1, G1.R - 1));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerNotHospital.selector, who));
        vm.prank(who);
        rm.submitUpdate(id, G1.one(c), "cid", 10, _noClaim());
    }

    /// @notice With n submissions of random counts and a random mask: expectedWeights reverts iff the mask names a
    /// slot past n; otherwise the included weights are >= 1 and sum to 2^13 (0 if none is included), the
    /// excluded ones are 0, and finalizeRound stores keccak(K + sum w_i (C_i - K)) (recomputed from the logs).
    function testFuzz_weightsAndAggregate(uint8 nSeed, uint64[5] memory counts, uint256 mask, uint256 logSeed)
        public
    {
        uint256 n = bound(nSeed, 1, SLOTS);
        uint256 id = _open();
        uint256[] memory logs = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            counts[i] = uint64(bound(counts[i], 1, rm.MAX_SAMPLE_COUNT()));
            logs[i] = bound(uint256(keccak256(abi.encode(logSeed, i))), K_LOG + 1, G1.R - 1);
            uint256[2] memory c = G1.mulG(logs[i]);
            vm.prank(_hospital(i));
            rm.submitUpdate(id, G1.one(c), "cid", counts[i], _noClaim());
        }
        mask = mask % 4 == 0 ? mask >> 2 : (mask >> 2) % (uint256(1) << n); // mostly valid
        if (mask >> n != 0) {
            vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerInvalidExclusion.selector, id, mask));
            rm.expectedWeights(id, mask);
            return;
        }
        uint256[] memory w = rm.expectedWeights(id, mask);
        uint256 sum;
        uint256 log = K_LOG;
        uint256 m;
        for (uint256 i = 0; i < n; i++) {
            if ((mask >> i) & 1 == 0) m += 1;
        }
        uint256 k = m < 3 ? m : 3;
        uint256 cap = m == 0 ? 0 : ((1 << 13) + k - 1) / k; // the share cap: a third, 1/m below 3 updates
        for (uint256 i = 0; i < SLOTS; i++) {
            bool included = i < n && (mask >> i) & 1 == 0;
            if (included) assertTrue(w[i] >= 1 && w[i] <= cap, "an included slot weighs 0 or above the share cap");
            else assertEq(w[i], 0, "an excluded slot has weight");
            sum += w[i];
            if (included) log = addmod(log, mulmod(w[i], logs[i] - K_LOG, G1.R), G1.R);
        }
        vm.warp(block.timestamp + 2 days);
        for (uint256 i = 0; i < n; i++) {
            if ((mask >> i) & 1 == 0) continue; // an exclusion needs a declaration with evidence (issue 18)
            vm.prank(AGGREGATOR);
            rm.declareExclusion(id, i, IRoundManagerExclusionEvents.ExclusionReason.InvalidContent, keccak256("evidence"), "ev");
        }
        vm.prank(AGGREGATOR);
        if (sum == 0) {
            vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerQuorumNotMet.selector, id, 0, 1));
            rm.finalizeRound(id, "model", mask);
            return;
        }
        assertEq(sum, 1 << 13, "weights do not sum to 2^13");
        rm.finalizeRound(id, "model", mask);
        assertEq(rm.getRound(id).newModelHash, G1.hash(G1.mulG(log)), "stored model hash");
    }

    /// @notice Issue 18: a declared count above the member's agreed cap is refused with its typed error; at or below
    /// it (or with no cap agreed) it is accepted.
    function testFuzz_memberSampleCap(uint64 cap, uint64 count) public {
        cap = uint64(bound(cap, 1, rm.MAX_SAMPLE_COUNT()));
        count = uint64(bound(count, 1, rm.MAX_SAMPLE_COUNT()));
        registry.setSampleCap(_hospital(0), cap);
        uint256 id = _open();
        uint256[2] memory c = G1.mulG(uint256(keccak256(abi.encode(cap, count))) % (G1.R - 100) + 100);
        vm.prank(_hospital(0));
        if (count > cap) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IRoundManager.RoundManagerSampleCountAboveMemberCap.selector, id, _hospital(0), count, cap
                )
            );
        }
        rm.submitUpdate(id, G1.one(c), "cid", count, _noClaim());
    }

    /// @notice Issue 18: the aggregator may finalize until `deadline + FINALIZE_WINDOW`, never after; until then
    /// nobody, the admin included, may abort a round that met its quorum; after it anyone may.
    function testFuzz_finalizeWindow(uint256 delay, bool finalize) public {
        delay = bound(delay, 1, 3 days);
        uint256 id = _open();
        uint256[2][] memory c = G1.one(G1.mulG(4242)); // before the prank: a precompile call would consume it
        vm.prank(_hospital(0));
        rm.submitUpdate(id, c, "cid", 10, _noClaim());
        uint64 deadline = rm.getRound(id).deadline;
        uint64 lastCall = deadline + rm.FINALIZE_WINDOW();
        assertEq(rm.finalizeDeadline(id), lastCall, "finalizeDeadline");
        vm.warp(uint256(deadline) + delay);
        bool late = block.timestamp > lastCall;
        if (finalize) {
            vm.prank(AGGREGATOR);
            if (late) {
                vm.expectRevert(
                    abi.encodeWithSelector(
                        IRoundManager.RoundManagerFinalizeDeadlinePassed.selector, id, lastCall, block.timestamp
                    )
                );
            }
            rm.finalizeRound(id, "model", 0);
        } else {
            if (!late) {
                vm.expectRevert(
                    abi.encodeWithSelector(
                        IRoundManager.RoundManagerFinalizeWindowOpen.selector, id, lastCall, block.timestamp
                    )
                );
            }
            rm.abortRound(id); // this contract is the admin
        }
    }

    /// @notice A norm proof bound to anything but (C(2^13 u), previous model, budget, chunk 0 of 1, sender) is
    /// refused even when the verifier accepts the statement it was made for; the honest statement is accepted.
    function testFuzz_normProofBinding(uint256 s, uint8 field, uint256 wrong, address sender) public {
        vm.assume(sender != address(0) && !registry.isHospital(sender) && sender != AGGREGATOR);
        vm.assume(uint160(sender) > 0xffff); // not a precompile or the cheatcode's neighbourhood
        registry.admitMember(sender, IConsortiumRegistry.Role.Hospital, "fuzzed");
        uint256 boundSq = 1 << 30;
        uint256 id = rm.openRoundWithPolicy(uint64(block.timestamp + 1 days), 1, IRoundManager.AggregationRule.FedAvg, boundSq);
        uint256 log = bound(s, K_LOG + 1, G1.R - 1);
        uint256[4] memory logs = [G1.scaled(K_LOG, log, 13), 11, 99, 0];
        uint256[] memory inst = new uint256[](9); // the statement the proof was made for
        inst[0] = 1 << 26;
        inst[1] = boundSq;
        inst[2] = 0;
        inst[3] = 1;
        for (uint256 i = 0; i < 5; i++) {
            inst[4 + i] = (uint256(uint160(sender)) >> (32 * i)) & 0xffffffff;
        }
        // 0: honest; 1-2: a point; 3: the flag; 4: the budget; 5-6: the chunk index or count; 7-11: an address limb
        field = uint8(bound(field, 0, 11));
        if (field == 1 || field == 2) {
            uint256 other = bound(wrong, 1, G1.R - 1);
            vm.assume(other != logs[field - 1]);
            logs[field - 1] = other;
        } else if (field >= 3) {
            vm.assume(wrong != inst[field - 3]);
            inst[field - 3] = wrong;
        }
        bytes memory proof = abi.encodePacked(G1.mulG(logs[0]), G1.mulG(logs[1]), G1.mulG(logs[2]));
        norm.set(true, false);
        norm.allow(proof, inst);
        uint256[2] memory c = G1.mulG(log);
        if (field != 0) vm.expectPartialRevert(IRoundManager.RoundManagerChunkProofRejected.selector);
        vm.prank(sender);
        rm.submitUpdate(id, G1.one(c), "cid", 10, _claim(boundSq, proof));
        assertEq(rm.getRound(id).submissionCount, field == 0 ? 1 : 0, "submission count");
    }

    function _noClaim() internal pure returns (IRoundManager.NormClaim memory claim) {
        return claim;
    }

    /// @dev An inline claim of one chunk: its budget and proof.
    function _claim(uint256 budget, bytes memory proof) internal pure returns (IRoundManager.NormClaim memory claim) {
        claim.budgets = new uint256[](1);
        claim.budgets[0] = budget;
        claim.proofs = new bytes[](1);
        claim.proofs[0] = proof;
    }
}
