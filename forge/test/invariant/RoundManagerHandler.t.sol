// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IRoundManager} from "@zkfl/interfaces/IRoundManager.sol";
import {RoundManager} from "@zkfl/RoundManager.sol";
import {ForgeTest} from "../utils/Vm.sol";
import {RoundManagerHandler} from "./RoundManagerHandler.sol";

/// @title RoundManagerHandlerTest
/// @notice The handler's honest paths succeed (so the invariant campaign reaches every phase), and its
/// deliberately wrong inputs are rejected without a violation.
contract RoundManagerHandlerTest is ForgeTest {
    RoundManagerHandler internal handler;
    RoundManager internal rm;

    function setUp() public {
        handler = new RoundManagerHandler(1);
        rm = handler.rm();
    }

    function _clean() internal view {
        assertTrue(bytes(handler.violation()).length == 0, handler.violation());
    }

    function test_fedAvgRoundThenRollback() public {
        handler.open(0, false, false, 1, 1 days); // quorum 2
        for (uint256 i = 0; i < 5; i++) {
            handler.submit(4 * i + 1, 2 + 16 * i, 100 * (i + 1), 16 * i + 2); // seed % 4 != 0: a member yet to submit
        }
        assertEq(handler.successes("submit"), 5, "submissions");
        handler.finalize(0, 2, false);
        assertEq(handler.successes("finalize"), 1, "finalized");
        assertEq(uint256(rm.getRound(1).phase), uint256(IRoundManager.Phase.Finalized), "phase");
        handler.reportUnavailable(0, 1);
        handler.reportUnavailable(4, 1); // seed % 4 == 0: hospital(seed >> 2)
        assertEq(uint256(rm.getRound(1).phase), uint256(IRoundManager.Phase.Finalized), "two of five: a minority");
        handler.reportUnavailable(8, 1); // the third of five: a strict majority
        assertEq(uint256(rm.getRound(1).phase), uint256(IRoundManager.Phase.RolledBack), "rolled back");
        _clean();
    }

    function _finalizedRound(uint256 logBase) internal {
        handler.open(0, false, false, 1, 1 days); // quorum 2
        for (uint256 i = 0; i < 5; i++) {
            handler.submit(4 * i + 1, logBase + 16 * i, 100 * (i + 1), 16 * i + 2);
        }
        handler.finalize(0, 2, true);
    }

    /// @notice Issue 18: a hospital admitted after a round opened is not entitled to report its model.
    function test_aLateMemberCannotReport() public {
        _finalizedRound(2);
        handler.warp(1);
        handler.admit(5); // hospital 5 joins after round 1 opened
        assertTrue(handler.registry().isHospital(handler.hospital(5)), "admitted");
        handler.reportUnavailable(20, 1); // seed % 4 == 0: hospital(5), round 1 (the current model)
        assertEq(handler.successes("reportUnavailable"), 0, "a late member's report was accepted");
        handler.reportUnavailable(0, 1); // hospital 0, a member at opening
        assertEq(handler.successes("reportUnavailable"), 1, "an entitled report");
        _clean();
    }

    /// @notice Issue 18: once a later round finalized, the earlier model can no longer be reported.
    function test_aSupersededModelCannotBeReported() public {
        _finalizedRound(2);
        _finalizedRound(3);
        assertEq(uint256(rm.getRound(2).phase), uint256(IRoundManager.Phase.Finalized), "round 2 finalized");
        handler.reportUnavailable(0, 3); // olderSeed % 4 == 3: round 1, superseded by round 2
        assertEq(handler.successes("reportUnavailable"), 0, "a superseded model was reported");
        _clean();
    }

    function test_boundedRoundEveryMode() public {
        handler.open(12345, false, true, 0, 1 days); // quorum 1, bounded
        for (uint256 mode = 9; mode < 16; mode++) {
            handler.submitBounded(0, 2 + 16 * mode, 10, mode);
        }
        assertEq(handler.successes("submitBounded"), 0, "a wrong statement was accepted");
        handler.submitBounded(0, 2, 10, 0);
        handler.submitBounded(1, 3, 10, 1);
        assertEq(handler.successes("submitBounded"), 2, "honest bounded submissions");
        handler.submit(2, 4, 10, 2); // an unbounded submission in a bounded round
        assertEq(handler.successes("submit"), 0, "unbounded submission accepted");
        handler.finalize(0, 2, true);
        assertEq(handler.successes("finalize"), 1, "finalized");
        _clean();
    }

    function test_medianRoundEveryMode() public {
        handler.open(0, true, false, 1, 1 days);
        handler.submit(0, 2, 10, 2);
        handler.submit(1, 3, 20, 2);
        handler.submit(2, 4, 30, 2);
        for (uint256 mode = 11; mode < 16; mode++) {
            handler.finalizeMedian(0, mode, 99, true);
        }
        assertEq(handler.successes("finalizeMedian"), 0, "a wrong median proof was accepted");
        handler.finalizeMedian(0, 0, 99, true);
        assertEq(handler.successes("finalizeMedian"), 1, "median finalized");
        // the next round starts from the median's model
        handler.open(7, false, true, 0, 1 days);
        handler.submitBounded(3, 5, 10, 0);
        assertEq(handler.successes("submitBounded"), 1, "bound to the median model");
        _clean();
    }

    function test_abortAndOutsider() public {
        handler.open(0, false, false, 1, 1 hours);
        handler.submit(0, 2, 10, 2);
        for (uint256 which = 0; which < 9; which++) {
            handler.outsiderCall(which, 2, 0);
        }
        handler.abort(3, true); // the outsider may abort an expired round short of its quorum
        assertEq(handler.successes("abort"), 1, "aborted");
        handler.remove(0);
        handler.admit(5);
        _clean();
    }
}

/// @title RoundManagerChunkedHandlerTest
/// @notice The handler over a chunked deployment (3 points per commitment): its honest chunked submissions
/// succeed, every spoilt mode is refused, median rounds are refused, FedAvg rounds finalize and bind the next
/// round's chunk proofs.
contract RoundManagerChunkedHandlerTest is ForgeTest {
    RoundManagerHandler internal handler;
    RoundManager internal rm;

    function setUp() public {
        handler = new RoundManagerHandler(3);
        rm = handler.rm();
    }

    function _clean() internal view {
        assertTrue(bytes(handler.violation()).length == 0, handler.violation());
    }

    function test_chunkedBoundedRoundEveryMode() public {
        handler.open(12345, false, true, 0, 1 days); // quorum 1, bounded
        for (uint256 mode = 9; mode < 16; mode++) {
            handler.submitBounded(1, 2 + 16 * mode, 10, mode);
        }
        assertEq(handler.successes("submitBounded"), 0, "a spoilt chunked statement was accepted");
        handler.submitBounded(1, 2, 10, 0);
        handler.submitBounded(1, 3, 20, 1);
        assertEq(handler.successes("submitBounded"), 2, "honest chunked submissions");
        handler.submit(1, 4, 10, 2); // no chunk proofs in a bounded round
        assertEq(handler.successes("submit"), 0, "submission without chunk proofs accepted");
        handler.finalize(0, 2, true);
        assertEq(handler.successes("finalize"), 1, "finalized");
        assertEq(rm.modelOf(1), handler.modelHashOf(1), "model hash");
        // the next bounded round's chunk proofs are bound to round 1's chunks
        handler.open(777, false, true, 0, 1 days);
        handler.submitBounded(1, 5, 10, 0);
        assertEq(handler.successes("submitBounded"), 3, "bound to round 1's model");
        _clean();
    }

    function test_chunkedUnboundedRoundAndMedianRefused() public {
        handler.open(0, true, false, 1, 1 days); // median: seed % 4 == 0 keeps it, and it is refused
        assertEq(handler.successes("open"), 0, "median round opened on a chunked scheme");
        handler.open(0, false, false, 1, 1 days); // quorum 2
        handler.submitBounded(1, 2, 10, 0); // a norm claim in an unbounded round: refused
        assertEq(handler.successes("submitBounded"), 0, "norm claim in an unbounded round");
        handler.submit(1, 2, 10, 2);
        handler.submit(1, 3, 20, 2);
        assertEq(handler.successes("submit"), 2, "plain submissions");
        handler.finalize(0, 2, true);
        assertEq(rm.modelOf(1), handler.modelHashOf(1), "model hash");
        for (uint256 which = 0; which < 9; which++) {
            handler.outsiderCall(which, 2, 0);
        }
        _clean();
    }
}
