// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IRoundManager} from "@zkfl/interfaces/IRoundManager.sol";
import {RoundManager} from "@zkfl/RoundManager.sol";
import {G1} from "../utils/G1.sol";
import {ForgeTest} from "../utils/Vm.sol";
import {RoundManagerHandler} from "./RoundManagerHandler.sol";

/// @title RoundManagerInvariantTest
/// @notice Stateful fuzzing of RoundManager (with ConsortiumRegistry membership changes and time warps) through
/// RoundManagerHandler; after every call forge checks each `invariant_*` below.
contract RoundManagerInvariantTest is ForgeTest {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    RoundManagerHandler internal handler;
    RoundManager internal rm;

    /// @dev Points per commitment of the deployment under test (RoundManagerChunkedInvariantTest: 3).
    function _chunks() internal pure virtual returns (uint256) {
        return 1;
    }

    function setUp() public {
        handler = new RoundManagerHandler(_chunks());
        rm = handler.rm();
        vm.label(address(handler), "handler");
        vm.label(address(rm), "RoundManager");
        vm.label(address(handler.registry()), "ConsortiumRegistry");
    }

    /// @dev Read by forge: the handler is the only contract the fuzzer calls.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @dev Read by forge: only the handler's actions (not its views).
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory s = new bytes4[](10);
        s[0] = RoundManagerHandler.warp.selector;
        s[1] = RoundManagerHandler.open.selector;
        s[2] = RoundManagerHandler.submitToRound.selector;
        s[3] = RoundManagerHandler.finalizeByRule.selector;
        s[4] = RoundManagerHandler.abort.selector;
        s[5] = RoundManagerHandler.reportUnavailable.selector;
        s[6] = RoundManagerHandler.admit.selector;
        s[7] = RoundManagerHandler.remove.selector;
        s[8] = RoundManagerHandler.outsiderCall.selector;
        s[9] = RoundManagerHandler.setCap.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), s);
    }

    /// @notice Every property below, after every call of every sequence (one campaign checks them all: forge
    /// runs a separate campaign per invariant function).
    function invariant_roundManager() public view {
        _noCallTimeViolation();
        _weightsSumToOne();
        _storedModelHash();
        _submissions();
        _oneOpenRound();
        _currentModel();
    }

    /// @notice No call-time violation: bounded submissions only with the verifier's approval of a statement bound
    /// to this commitment, previous model, bound and sender; median rounds only with an approved proof over
    /// the round's slots and a zero certificate; non-members change nothing; phases move only
    /// None->Open->{Finalized, Aborted}, Finalized->RolledBack.
    function _noCallTimeViolation() internal view {
        string memory v = handler.violation();
        assertTrue(bytes(v).length == 0, v);
    }

    /// @notice For every round, expectedWeights (at the finalization mask, or none excluded while open) sums to
    /// exactly 2^scaleBits over the included slots, is 0 elsewhere, none above the share cap ceil(2^s / min(m, 3)),
    /// and equals the protocol's formula (water-filling, written out again in the handler).
    function _weightsSumToOne() internal view {
        uint256 current = rm.currentRoundId();
        for (uint256 id = 1; id <= current; id++) {
            RoundManagerHandler.GhostSubmission[] memory subs = handler.ghostSubmissions(id);
            if (subs.length == 0) continue;
            uint256 mask = handler.ghostRound(id).mask;
            uint256[] memory w = rm.expectedWeights(id, mask);
            uint256[] memory expected = handler.weights(id, mask);
            assertEq(w.length, handler.SLOTS(), "weights length");
            uint256 sum;
            bool anyIncluded;
            uint256 m;
            for (uint256 i = 0; i < subs.length; i++) {
                if ((mask >> i) & 1 == 0) m += 1;
            }
            for (uint256 i = 0; i < w.length; i++) {
                bool included = i < subs.length && (mask >> i) & 1 == 0;
                if (included) {
                    assertTrue(w[i] >= 1, "an included slot weighs 0");
                    assertTrue(w[i] <= handler.shareCap(m), "a slot weighs more than the share cap");
                    anyIncluded = true;
                } else {
                    assertEq(w[i], 0, "an excluded or empty slot has weight");
                }
                assertEq(w[i], expected[i], "weight differs from the protocol's formula");
                sum += w[i];
            }
            if (anyIncluded) assertEq(sum, handler.ONE(), "weights do not sum to 2^scaleBits");
        }
    }

    /// @notice A finalized (or since rolled back) FedAvg round stores the keccak of its points K + sum_i w_i (C_ic - K),
    /// one per chunk, recomputed from the submissions' discrete logs; a median round stores the proof's point 5.
    function _storedModelHash() internal view {
        uint256 current = rm.currentRoundId();
        for (uint256 id = 1; id <= current; id++) {
            IRoundManager.RoundInfo memory r = rm.getRound(id);
            if (r.phase != IRoundManager.Phase.Finalized && r.phase != IRoundManager.Phase.RolledBack) continue;
            RoundManagerHandler.GhostRound memory g = handler.ghostRound(id);
            assertEq(r.newModelHash, handler.modelHashOf(id), "stored model hash");
            if (handler.CHUNKS() == 1) {
                uint256 log = r.rule == IRoundManager.AggregationRule.FedAvg ? handler.fedAvgLog(id, g.mask) : g.modelLog;
                assertEq(r.newModelHash, G1.hash(G1.mulG(log)), "one-point model hash: keccak(x || y)");
            }
            assertEq(rm.modelOf(id), r.newModelHash, "modelOf");
            assertEq(r.prevModelHash, handler.modelHashOf(g.prevRound), "stored previous model hash");
            assertEq(r.prevModelRound, g.prevRound, "previous model round");
        }
    }

    /// @notice Every round holds at most `slots` submissions, at most one per hospital, exactly those the handler
    /// saw accepted, and never K or a point used before.
    function _submissions() internal view {
        uint256 current = rm.currentRoundId();
        uint256 k = handler.K_LOG();
        for (uint256 id = 1; id <= current; id++) {
            IRoundManager.RoundInfo memory r = rm.getRound(id);
            RoundManagerHandler.GhostSubmission[] memory subs = handler.ghostSubmissions(id);
            assertTrue(r.submissionCount <= rm.slots(), "more submissions than slots");
            assertEq(r.submissionCount, subs.length, "submission count");
            for (uint256 i = 0; i < subs.length; i++) {
                IRoundManager.Submission memory s = rm.getSubmission(id, i);
                assertEq(s.hospital, subs[i].hospital, "submitter");
                assertEq(s.sampleCount, subs[i].samples, "sample count");
                uint256[2][] memory c = handler.commitmentOf(subs[i].log);
                assertEq(s.commitment.length, handler.CHUNKS(), "commitment points");
                for (uint256 j = 0; j < c.length; j++) {
                    assertTrue(s.commitment[j][0] == c[j][0] && s.commitment[j][1] == c[j][1], "commitment");
                }
                assertTrue(subs[i].log != k, "K accepted as a commitment");
                for (uint256 j = 0; j < i; j++) {
                    assertTrue(subs[j].hospital != subs[i].hospital, "two submissions from one hospital");
                }
            }
        }
    }

    /// @notice At most one round is open, and only the latest.
    function _oneOpenRound() internal view {
        uint256 current = rm.currentRoundId();
        for (uint256 id = 1; id < current; id++) {
            assertTrue(rm.getRound(id).phase != IRoundManager.Phase.Open, "an older round is still open");
        }
        assertTrue(rm.getRound(current + 1).phase == IRoundManager.Phase.None, "a round past the current one");
    }

    /// @notice Every round's phase is the one its successful calls imply, and currentModel() is the latest
    /// finalized round's model, or genesis.
    function _currentModel() internal view {
        uint256 current = rm.currentRoundId();
        assertEq(current, handler.lastRound(), "current round");
        for (uint256 id = 1; id <= current; id++) {
            assertEq(uint256(rm.getRound(id).phase), uint256(handler.ghostRound(id).phase), "phase");
        }
        (uint256 expectedRound,) = handler.currentModel();
        (bytes32 hash, uint256 modelRound) = rm.currentModel();
        assertEq(modelRound, expectedRound, "current model round");
        assertEq(hash, handler.modelHashOf(expectedRound), "current model hash");
    }
}

/// @title RoundManagerChunkedInvariantTest
/// @notice The same campaign and invariants over a chunked deployment (3 points per commitment): bounded
/// bounded submissions carry a proof and a budget per chunk in one submitUpdate, FedAvg aggregates chunk by chunk,
/// median rounds are refused.
contract RoundManagerChunkedInvariantTest is RoundManagerInvariantTest {
    function _chunks() internal pure override returns (uint256) {
        return 3;
    }
}
