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

/// @title RoundManagerOptimisticTest
/// @notice A chunked deployment with a challenge window (chunks = 3): submissions post proof hashes; a challenge
/// runs the submission's check (points, instances built by the contract, the verifier) on one chunk; a false proof
/// excludes the slot, a good one reverts; finalizing waits for the window and must leave faulted slots out.
/// The verifier is a ScriptedVerifier approving only the statements a test allows (proof and instances).
contract RoundManagerOptimisticTest is ForgeTest {
    uint256 internal constant CHUNKS = 3;
    uint256 internal constant K_LOG = 7;
    uint256 internal constant BOUND = 1 << 30;
    uint64 internal constant WINDOW = 3 hours;
    address internal constant AGGREGATOR = address(0xA66);

    ConsortiumRegistry internal registry;
    ScriptedVerifier internal norm;
    RoundManager internal rm;
    uint256 internal roundId;

    function setUp() public {
        vm.warp(1_700_000_000);
        registry = new ConsortiumRegistry(address(this));
        norm = new ScriptedVerifier();
        norm.set(true, false);
        uint256[] memory genesis = new uint256[](CHUNKS);
        for (uint256 c = 0; c < CHUNKS; c++) {
            genesis[c] = 11 + c;
        }
        rm = new RoundManager(
            IConsortiumRegistry(address(registry)),
            IHalo2Verifier(address(0)),
            IHalo2Verifier(address(norm)),
            IRoundManager.CommitmentScheme(5, 30, 10, CHUNKS, 13, G1.mulG(K_LOG), keccak256("basis"), WINDOW),
            G1.mulGs(genesis),
            "genesis",
            "circuit"
        );
        registry.admitMember(AGGREGATOR, IConsortiumRegistry.Role.Aggregator, "enclave");
        for (uint256 i = 0; i < 2; i++) {
            registry.admitMember(_hospital(i), IConsortiumRegistry.Role.Hospital, "h");
        }
        roundId = rm.openRoundWithPolicy(uint64(block.timestamp + 1 days), 1, IRoundManager.AggregationRule.FedAvg, BOUND);
    }

    function _hospital(uint256 i) internal pure returns (address) {
        return address(uint160(0x1000 + i));
    }

    /// @dev Hospital `i`'s chunk points (logs 1000 + 10 i + c), its proofs (honest points) and the statements.
    function _proofs(uint256 i) internal view returns (uint256[2][] memory points, bytes[] memory proofs) {
        points = new uint256[2][](CHUNKS);
        proofs = new bytes[](CHUNKS);
        for (uint256 c = 0; c < CHUNKS; c++) {
            uint256 u = 1000 + 10 * i + c;
            points[c] = G1.mulG(u);
            proofs[c] = abi.encodePacked(G1.mulG(G1.scaled(K_LOG, u, 13)), G1.mulG(11 + c), G1.mulG(12345), "body");
        }
    }

    function _claim(bytes[] memory proofs) internal pure returns (IRoundManager.NormClaim memory claim) {
        claim.budgets = new uint256[](CHUNKS);
        claim.proofHashes = new bytes32[](CHUNKS);
        for (uint256 c = 0; c < CHUNKS; c++) {
            claim.budgets[c] = BOUND / CHUNKS;
            claim.proofHashes[c] = keccak256(proofs[c]);
        }
        claim.proofCid = "bundle";
    }

    /// @dev The instances the contract builds for hospital `i`'s chunk `c`.
    function _allow(uint256 i, uint256 c, bytes memory proof) internal {
        uint256[] memory inst = new uint256[](9);
        inst[0] = 1 << 26;
        inst[1] = BOUND / CHUNKS;
        inst[2] = c;
        inst[3] = CHUNKS;
        for (uint256 k = 0; k < 5; k++) {
            inst[4 + k] = (uint256(uint160(_hospital(i))) >> (32 * k)) & 0xffffffff;
        }
        norm.allow(proof, inst);
    }

    function _submit(uint256 i) internal returns (bytes[] memory proofs, IRoundManager.NormClaim memory claim) {
        uint256[2][] memory points;
        (points, proofs) = _proofs(i);
        claim = _claim(proofs);
        vm.prank(_hospital(i));
        rm.submitUpdate(roundId, points, "cid", 10, claim);
    }

    function test_submissionVerifiesNothing_andSetsTheWindow() public {
        uint256 calls = norm.calls();
        _submit(0);
        assertEq(norm.calls(), calls, "no verifier call at submission");
        assertEq(rm.challengeEnd(roundId), block.timestamp + WINDOW, "challenge end");
    }

    function test_challengeOfAFalseProof_excludes_andFinalizeMustLeaveItOut() public {
        (bytes[] memory proofs, IRoundManager.NormClaim memory claim) = _submit(0);
        _submit(1);
        _allow(0, 0, proofs[0]); // chunk 1 of hospital 0 is never allowed: false
        vm.prank(_hospital(1));
        rm.challengeChunk(roundId, 0, 1, claim.budgets, claim.proofHashes, proofs[1]);
        assertEq(rm.faultedSlots(roundId), 1, "slot 0 faulted");
        vm.prank(AGGREGATOR);
        vm.expectPartialRevert(IRoundManager.RoundManagerChallengeWindowOpen.selector);
        rm.finalizeRound(roundId, "model", 1);
        vm.warp(rm.challengeEnd(roundId) + 1);
        vm.prank(AGGREGATOR);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerInvalidExclusion.selector, roundId, 0));
        rm.finalizeRound(roundId, "model", 0);
        vm.prank(AGGREGATOR);
        rm.finalizeRound(roundId, "model", 1);
    }

    function test_challengeOfAGoodProof_reverts() public {
        (bytes[] memory proofs, IRoundManager.NormClaim memory claim) = _submit(0);
        _allow(0, 2, proofs[2]);
        vm.prank(_hospital(1));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerChallengeFailed.selector, roundId, 0, 2));
        rm.challengeChunk(roundId, 0, 2, claim.budgets, claim.proofHashes, proofs[2]);
        assertEq(rm.faultedSlots(roundId), 0, "nothing faulted");
    }

    /// @notice A proof the verifier accepts, posted for the wrong chunk (its point 0 is another chunk's): the point
    /// check of the shared check function faults it.
    function test_challengeOfAProofOfAnotherChunk_faultsItsPoint() public {
        (uint256[2][] memory points, bytes[] memory proofs) = _proofs(0);
        (proofs[0], proofs[1]) = (proofs[1], proofs[0]);
        IRoundManager.NormClaim memory claim = _claim(proofs);
        vm.prank(_hospital(0));
        rm.submitUpdate(roundId, points, "cid", 10, claim);
        norm.relax(); // the verifier would accept anything: only the contract's own binding can fault it
        vm.prank(_hospital(1));
        rm.challengeChunk(roundId, 0, 0, claim.budgets, claim.proofHashes, proofs[0]);
        assertEq(rm.faultedSlots(roundId), 1, "faulted by the point check");
    }

    function test_challengeWithOtherDataThanPosted_reverts() public {
        (bytes[] memory proofs, IRoundManager.NormClaim memory claim) = _submit(0);
        vm.prank(_hospital(1));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerClaimMismatch.selector, roundId, 0, 0));
        rm.challengeChunk(roundId, 0, 0, claim.budgets, claim.proofHashes, proofs[1]);
        claim.budgets[0] += 1;
        vm.prank(_hospital(1));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerClaimMismatch.selector, roundId, 0, 0));
        rm.challengeChunk(roundId, 0, 0, claim.budgets, claim.proofHashes, proofs[0]);
    }

    function test_challengeAfterTheWindow_reverts() public {
        (bytes[] memory proofs, IRoundManager.NormClaim memory claim) = _submit(0);
        uint256 end = rm.challengeEnd(roundId);
        vm.warp(end + 1);
        vm.prank(_hospital(1));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerWindowClosed.selector, roundId, 0, end));
        rm.challengeChunk(roundId, 0, 0, claim.budgets, claim.proofHashes, proofs[0]);
    }
}
