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

/// @title RoundManagerExclusionFuzzTest
/// @notice Exclusions with evidence (issue 18, docs/exclusions.md), fuzzed: a finalization succeeds only if every
/// excluded slot was declared (an Unavailable one past its unanswered re-announce window), and a dispute is
/// upheld exactly when more than half of the members at opening support it within the window.
contract RoundManagerExclusionFuzzTest is ForgeTest {
    uint256 internal constant SLOTS = 5;
    uint256 internal constant K_LOG = 7;
    address internal constant AGGREGATOR = address(0xA66);

    ConsortiumRegistry internal registry;
    RoundManager internal rm;

    function setUp() public {
        vm.warp(1_700_000_000);
        registry = new ConsortiumRegistry(address(this));
        rm = new RoundManager(
            IConsortiumRegistry(address(registry)),
            IHalo2Verifier(address(new ScriptedVerifier())),
            IHalo2Verifier(address(new ScriptedVerifier())),
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

    /// @dev Round 1 with every member's submission (submissions closed).
    function _fullRound() internal returns (uint256 id) {
        id = rm.openRoundWithPolicy(uint64(block.timestamp + 1 days), 1, IRoundManager.AggregationRule.FedAvg, 0);
        for (uint256 i = 0; i < SLOTS; i++) {
            uint256[2][] memory c = G1.one(G1.mulG(100 + i)); // before the prank: it calls a precompile
            vm.prank(_hospital(i));
            rm.submitUpdate(id, c, "cid", 10, _noClaim());
        }
    }

    function _declare(uint256 id, uint256 slot, IRoundManagerExclusionEvents.ExclusionReason reason) internal {
        vm.prank(AGGREGATOR);
        if (reason == IRoundManagerExclusionEvents.ExclusionReason.Unavailable) rm.declareExclusion(id, slot, reason, bytes32(0), "");
        else rm.declareExclusion(id, slot, reason, keccak256("evidence"), "evidence-cid");
    }

    /// @notice Any mask over 4 of the slots (one always included), with a random subset declared: finalizeRound
    /// reverts with RoundManagerExclusionNotDeclared naming the lowest undeclared excluded slot, else succeeds and
    /// marks exactly the excluded slots applied.
    function testFuzz_finalizeNeedsADeclarationForEveryExcludedSlot(uint256 maskSeed, uint256 declaredSeed) public {
        uint256 id = _fullRound();
        uint256 mask = maskSeed % 16; // slot 4 always included: the quorum of 1 holds
        uint256 declared = declaredSeed % 32;
        for (uint256 i = 0; i < SLOTS; i++) {
            if ((declared >> i) & 1 == 1) _declare(id, i, IRoundManagerExclusionEvents.ExclusionReason.InvalidContent);
        }
        uint256 missing = mask & ~declared;
        vm.prank(AGGREGATOR);
        if (missing != 0) {
            uint256 slot = 0;
            while ((missing >> slot) & 1 == 0) slot++;
            vm.expectRevert(
                abi.encodeWithSelector(IRoundManager.RoundManagerExclusionNotDeclared.selector, id, slot)
            );
            rm.finalizeRound(id, "model", mask);
            return;
        }
        rm.finalizeRound(id, "model", mask);
        for (uint256 i = 0; i < SLOTS; i++) {
            assertTrue(rm.getExclusion(id, i).applied == ((mask >> i) & 1 == 1), "applied iff excluded");
        }
        assertEq(rm.disputeDeadline(id), mask == 0 ? 0 : block.timestamp + rm.EXCLUSION_DISPUTE_WINDOW(), "window");
    }

    /// @notice An Unavailable exclusion applies only after its re-announce window, and never once re-announced.
    function testFuzz_unavailableWaitsItsWindowUnlessReannounced(uint256 wait, bool reannounce) public {
        uint256 id = _fullRound();
        _declare(id, 1, IRoundManagerExclusionEvents.ExclusionReason.Unavailable);
        uint256 windowEnd = block.timestamp + rm.REANNOUNCE_WINDOW();
        if (reannounce) {
            vm.prank(_hospital(1));
            rm.reannounceUpdate(id, 1, "envelope");
        }
        wait = bound(wait, 0, 2 * rm.REANNOUNCE_WINDOW());
        vm.warp(block.timestamp + wait);
        vm.prank(AGGREGATOR);
        if (reannounce) {
            vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerUpdateReannounced.selector, id, 1));
        } else if (block.timestamp <= windowEnd) {
            vm.expectRevert(
                abi.encodeWithSelector(IRoundManager.RoundManagerReannounceWindowOpen.selector, id, 1, windowEnd)
            );
        }
        rm.finalizeRound(id, "model", 1 << 1);
    }

    /// @notice k supporters (the disputing hospital first) uphold the dispute iff 2k > 5 members; an upheld one
    /// invalidates the round and names the aggregator; nothing is supported after the window.
    function testFuzz_disputeUpheldIffAMajoritySupports(uint256 kSeed, uint256 lateSeed) public {
        uint256 id = _fullRound();
        _declare(id, 0, IRoundManagerExclusionEvents.ExclusionReason.Undecryptable);
        vm.prank(AGGREGATOR);
        rm.finalizeRound(id, "model", 1);
        uint256 deadline = rm.disputeDeadline(id);
        uint256 k = bound(kSeed, 1, SLOTS);
        vm.prank(_hospital(0));
        rm.disputeExclusion(id, 0);
        for (uint256 i = 1; i < k; i++) {
            vm.prank(_hospital(i));
            if (2 * i > SLOTS) {
                // already upheld by the i supporters before: settled, no more support
                vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerDisputeUpheld.selector, id, 0));
            }
            rm.supportDispute(id, 0);
        }
        bool upheld = 2 * k > SLOTS;
        assertTrue(rm.getExclusion(id, 0).upheld == upheld, "upheld iff a majority");
        assertTrue(
            rm.getRound(id).phase == (upheld ? IRoundManager.Phase.Invalidated : IRoundManager.Phase.Finalized),
            "phase"
        );
        (, uint256 modelRound) = rm.currentModel();
        assertEq(modelRound, upheld ? 0 : id, "current model");
        if (upheld) return;
        vm.warp(deadline + 1 + bound(lateSeed, 0, 30 days));
        vm.prank(_hospital(k));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundManagerWindowClosed.selector, id, 0, deadline));
        rm.supportDispute(id, 0);
    }

    function _noClaim() internal pure returns (IRoundManager.NormClaim memory claim) {
        return claim;
    }
}
