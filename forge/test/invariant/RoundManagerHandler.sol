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

/// @title RoundManagerHandler
/// @notice The invariant fuzzer's only target: every action drives RoundManager or ConsortiumRegistry with
/// bounded random inputs (valid most of the time, deliberately wrong some of the time), swallows reverts, and
/// records what succeeded in ghost state (discrete logs of every point, masks, phases). Violations that can
/// only be seen at call time (an accepted submission whose norm proof was not bound to it, a state change by
/// a non-member, an illegal phase transition) set flags that the invariants assert to be false.
/// @dev Deployed for a one-point scheme (`chunks` = 1: median rounds) or a chunked one (`chunks` > 1); a bounded
/// submission is one submitUpdate with a proof and a budget per chunk (no challenge window: verified inline). A submission's
/// ghost `log` is its chunk 0's discrete log; chunk c's is `chunkLog(log, c)`.
contract RoundManagerHandler is ForgeTest {
    uint256 public constant SLOTS = 5;
    uint256 public constant SCALE_BITS = 13;
    uint256 public constant ONE = uint256(1) << SCALE_BITS;
    uint256 public constant FLAG_OK = uint256(1) << (2 * SCALE_BITS);
    uint256 public constant K_LOG = 7; // K = 7 G
    uint256 public constant GENESIS_LOG = 11; // genesis model = 11 G
    uint256 public constant POOL = 7; // candidate hospitals; SLOTS + 2 so that rounds can fill up
    uint256 public constant CHUNK_STRIDE = 1_000_003; // chunk c of a commitment with chunk-0 log s: s + c * stride
    uint256 public immutable CHUNKS;

    ConsortiumRegistry public immutable registry;
    RoundManager public immutable rm;
    ScriptedVerifier public immutable normVerifier;
    ScriptedVerifier public immutable medianVerifier;
    address public constant AGGREGATOR = address(0xA66);
    address public constant AUDITOR = address(0xA0D);
    address public constant OUTSIDER = address(0xBAD); // never admitted

    struct GhostSubmission {
        address hospital;
        uint256 log; // commitment = log * G
        uint64 samples;
    }

    struct GhostRound {
        IRoundManager.Phase phase;
        IRoundManager.AggregationRule rule;
        uint256 normBoundSq;
        uint256 prevLog; // discrete log of the previous model's commitment (chunk 0)
        uint256 prevRound; // the round that made the previous model (0: genesis)
        uint256 mask; // excluded mask at finalization
        uint256 modelLog; // discrete log of the new model's commitment (Finalized / RolledBack)
        uint256 reports;
    }

    uint256 public ghostTime;
    uint256 public ghostBlock;
    uint256 public lastRound;
    mapping(uint256 => GhostRound) internal _rounds;
    mapping(uint256 => GhostSubmission[]) internal _subs;
    mapping(uint256 => IRoundManager.Phase) internal _seenPhase;
    uint256 internal _nonce;

    // violation flags, asserted false by the invariants (each names what went wrong first)
    string public violation;
    // action counters (printed by the summary invariant)
    mapping(bytes32 => uint256) public calls;
    mapping(bytes32 => uint256) public successes;

    constructor(uint256 chunks_) {
        CHUNKS = chunks_;
        registry = new ConsortiumRegistry(address(this));
        normVerifier = new ScriptedVerifier();
        medianVerifier = new ScriptedVerifier();
        uint256[2] memory k = G1.mulG(K_LOG);
        IRoundManager.CommitmentScheme memory scheme = IRoundManager.CommitmentScheme({
            slots: SLOTS,
            modelSize: 31,
            padRows: 10,
            chunks: chunks_,
            scaleBits: SCALE_BITS,
            zeroCommitment: k,
            kzgBasisDigest: keccak256("test basis"),
            challengeWindow: 0
        });
        rm = new RoundManager(
            IConsortiumRegistry(address(registry)),
            IHalo2Verifier(address(medianVerifier)),
            IHalo2Verifier(address(normVerifier)),
            scheme,
            _genesis(chunks_),
            "genesis-cid",
            "circuit-cid"
        );
        registry.admitMember(AGGREGATOR, IConsortiumRegistry.Role.Aggregator, "enclave");
        registry.admitMember(AUDITOR, IConsortiumRegistry.Role.Auditor, "auditor");
        for (uint256 i = 0; i < SLOTS; i++) {
            registry.admitMember(hospital(i), IConsortiumRegistry.Role.Hospital, "hospital");
        }
        ghostTime = 1_700_000_000;
        ghostBlock = 100;
        vm.warp(ghostTime);
        vm.roll(ghostBlock);
    }

    /// @dev Restores the clock (cheatcode effects on the block environment do not survive between fuzzer calls),
    /// then checks every round's phase transition after the action.
    modifier step(bytes32 name) {
        vm.warp(ghostTime);
        vm.roll(ghostBlock);
        calls[name] += 1;
        _;
        _checkTransitions();
    }

    // --- actions ------------------------------------------------------------------------------------

    function warp(uint256 seconds_) external step("warp") {
        ghostTime += bound(seconds_, 1, 3 days);
        ghostBlock += 1;
        successes["warp"] += 1;
    }

    function open(uint256 seed, bool median, bool bounded, uint256 quorumSeed, uint256 durationSeed)
        external
        step("open")
    {
        // mostly 1..3; sometimes 0 or SLOTS + 1 (invalid) or anything in between
        uint256 q = quorumSeed % 8;
        uint32 quorum = uint32(q < 5 ? 1 + (q % 3) : q == 5 ? 0 : q == 6 ? SLOTS + 1 : bound(quorumSeed >> 3, 1, SLOTS));
        uint64 deadline = uint64(ghostTime + bound(durationSeed, 0, 2 days)); // 0: deadline == now, invalid
        uint256 boundSq = bounded ? bound(seed, 1, rm.NORM_RANGE() - 1) : 0;
        if (CHUNKS > 1 && median && seed % 4 != 0) median = false; // a chunked scheme refuses median rounds
        IRoundManager.AggregationRule rule =
            median ? IRoundManager.AggregationRule.Median : IRoundManager.AggregationRule.FedAvg;
        try rm.openRoundWithPolicy(deadline, quorum, rule, boundSq) returns (uint256 id) {
            successes["open"] += 1;
            if (median && CHUNKS > 1) _flag("median round opened on a chunked scheme");
            lastRound = id;
            GhostRound storage g = _rounds[id];
            g.phase = IRoundManager.Phase.Open;
            g.rule = rule;
            g.normBoundSq = boundSq;
            (g.prevRound, g.prevLog) = currentModel();
        } catch {}
    }

    /// @notice The fuzzer's submission: the kind the latest round takes (plain or with a norm proof), the other
    /// kind one time in eight.
    function submitToRound(uint256 actorSeed, uint256 logSeed, uint256 samplesSeed, uint256 cidSeed, uint256 mode)
        external
        step("submitToRound")
    {
        bool bounded = _rounds[lastRound].normBoundSq != 0;
        if (mode % 8 == 7) bounded = !bounded;
        if (bounded) _submitBounded(actorSeed, logSeed, samplesSeed, mode >> 3);
        else _submit(actorSeed, logSeed, samplesSeed, cidSeed);
    }

    /// @notice The fuzzer's finalization: by the latest round's rule, the other rule one time in eight.
    function finalizeByRule(uint256 maskSeed, uint256 cidSeed, uint256 mode, uint256 modelSeed, bool afterDeadline)
        external
        step("finalizeByRule")
    {
        bool median = _rounds[lastRound].rule == IRoundManager.AggregationRule.Median;
        if (mode % 8 == 7) median = !median;
        if (median) _finalizeMedian(maskSeed, mode >> 3, modelSeed, afterDeadline);
        else _finalize(maskSeed, cidSeed, afterDeadline);
    }

    function submit(uint256 actorSeed, uint256 logSeed, uint256 samplesSeed, uint256 cidSeed)
        external
        step("submit")
    {
        _submit(actorSeed, logSeed, samplesSeed, cidSeed);
    }

    function _submit(uint256 actorSeed, uint256 logSeed, uint256 samplesSeed, uint256 cidSeed) internal {
        address h = _actor(actorSeed);
        uint256 log = _commitmentLog(logSeed);
        uint64 samples = uint64(bound(samplesSeed, 0, rm.MAX_SAMPLE_COUNT() + 1));
        uint256 roundId = lastRound;
        uint256[2][] memory c = commitmentOf(log);
        string memory cid = _cid(cidSeed);
        uint64 cap = registry.sampleCapOf(h);
        vm.prank(h);
        try rm.submitUpdate(roundId, c, cid, samples, _noClaim()) {
            successes["submit"] += 1;
            if (cap != 0 && samples > cap) _flag("submission above the member's agreed sample cap accepted");
            if (_rounds[roundId].normBoundSq != 0) _flag("submission without a norm proof accepted in a bounded round");
            _subs[roundId].push(GhostSubmission(h, log, samples));
        } catch {}
    }

    /// @param mode mostly (0-8 of 16) an honest statement the verifier approves; otherwise one thing wrong:
    /// 9 the verifier rejects, 10 the verifier reverts, 11 the flag says "out of bound", 12 another member's
    /// address limbs (a replayed proof), 13 point 0 is C(u) instead of C(2^s u), 14 point 1 is not the round's
    /// previous model, 15 another bound.
    function submitBounded(uint256 actorSeed, uint256 logSeed, uint256 samplesSeed, uint256 mode)
        external
        step("submitBounded")
    {
        _submitBounded(actorSeed, logSeed, samplesSeed, mode);
    }

    function _submitBounded(uint256 actorSeed, uint256 logSeed, uint256 samplesSeed, uint256 mode) internal {
        address h = _actor(actorSeed);
        uint256 log = _commitmentLog(logSeed);
        uint64 samples = uint64(bound(samplesSeed, 1, rm.MAX_SAMPLE_COUNT()));
        uint256 roundId = lastRound;
        if (CHUNKS > 1) {
            _submitChunked(h, log, samples, mode % 16, uint256(keccak256(abi.encode(actorSeed, mode))));
            return;
        }
        mode = mode % 16;
        address limbsOf = mode == 12 ? hospital(actorSeed + 1) : h;
        (bytes memory proof, uint256[] memory inst) = _normStatement(roundId, log, mode, limbsOf);
        normVerifier.set(mode != 9, mode == 10);
        normVerifier.allow(proof, inst); // the statement the proof was made for; the contract asks about its own
        IRoundManager.NormClaim memory claim = _claim(1);
        claim.budgets[0] = mode == 15 ? _rounds[roundId].normBoundSq + 1 : _rounds[roundId].normBoundSq;
        claim.proofs[0] = proof;
        uint256[2][] memory c = commitmentOf(log);
        uint64 cap = registry.sampleCapOf(h);
        vm.prank(h);
        try rm.submitUpdate(roundId, c, "cid", samples, claim) {
            successes["submitBounded"] += 1;
            if (cap != 0 && samples > cap) _flag("bounded submission above the member's agreed sample cap accepted");
            if (mode == 9 || mode == 10) _flag("bounded submission accepted without the verifier's approval");
            if (mode == 11) _flag("bounded submission accepted with the out-of-bound flag");
            if (limbsOf != h) _flag("bounded submission accepted with another sender's limbs");
            if (mode == 13) _flag("bounded submission accepted with an unscaled point 0");
            if (mode == 14) _flag("bounded submission accepted against another previous model");
            if (mode == 15) _flag("bounded submission accepted with another bound");
            if (_rounds[roundId].normBoundSq == 0) _flag("bounded submission accepted in an unbounded round");
            _subs[roundId].push(GhostSubmission(h, log, samples));
        } catch {}
    }

    /// @dev The norm proof's points [C(2^s u), C(S_prev), C(p)] and the instances it was made for [flag, b, 0, 1,
    /// limbs of `limbsOf`], with `submitBounded`'s mode applied.
    function _normStatement(uint256 roundId, uint256 log, uint256 mode, address limbsOf)
        internal
        view
        returns (bytes memory proof, uint256[] memory inst)
    {
        GhostRound storage g = _rounds[roundId];
        uint256 point0 = mode == 13 ? log : G1.scaled(K_LOG, log, SCALE_BITS);
        uint256 point1 = mode == 14 ? g.prevLog + 1 : g.prevLog;
        proof = abi.encodePacked(G1.mulG(point0), G1.mulG(point1), G1.mulG(12345), "proof-body");
        inst = new uint256[](9);
        inst[0] = mode == 11 ? 0 : FLAG_OK;
        inst[1] = mode == 15 ? g.normBoundSq + 1 : g.normBoundSq;
        inst[2] = 0;
        inst[3] = 1;
        for (uint256 i = 0; i < 5; i++) {
            inst[4 + i] = (uint256(uint160(limbsOf)) >> (32 * i)) & 0xffffffff;
        }
    }

    function _noClaim() internal pure returns (IRoundManager.NormClaim memory claim) {
        return claim;
    }

    /// @dev An inline claim of `n` chunks (budgets and proofs to fill in).
    function _claim(uint256 n) internal pure returns (IRoundManager.NormClaim memory claim) {
        claim.budgets = new uint256[](n);
        claim.proofs = new bytes[](n);
    }

    /// @dev A chunked scheme's bounded submission: one submitUpdate with a budget and a proof per chunk. `mode` (of
    /// 16): 0-8 honest; otherwise one thing wrong: 9 the verifier rejects one chunk's proof, 10 it reverts, 11 the
    /// budgets add up to more than the bound, 12 every proof carries another member's limbs, 13 one chunk's
    /// point 0 is C(u_c) instead of C(2^s u_c), 14 one chunk's point 1 is not the previous model's chunk, 15 the
    /// submitted list has chunks 0 and 1 swapped. `seed` picks the spoilt chunk. In an unbounded round the claim
    /// must be refused (`submit` covers that round's submissions).
    function _submitChunked(address h, uint256 log, uint64 samples, uint256 mode, uint256 seed) internal {
        uint256 roundId = lastRound;
        uint256 boundSq = _rounds[roundId].normBoundSq;
        uint256 bad = seed % CHUNKS; // the chunk that modes 9, 13 and 14 spoil
        address limbsOf = mode == 12 ? address(uint160(h) ^ 1) : h; // another address, never h
        IRoundManager.NormClaim memory claim = _claim(CHUNKS);
        normVerifier.set(true, mode == 10);
        for (uint256 c = 0; c < CHUNKS; c++) {
            uint256[] memory inst;
            (claim.proofs[c], inst) = _chunkStatement(roundId, log, c, c == bad ? mode : 0, limbsOf);
            claim.budgets[c] = mode == 11 ? boundSq / CHUNKS + 1 : boundSq / CHUNKS;
            inst[1] = claim.budgets[c];
            if (!(mode == 9 && c == bad)) normVerifier.allow(claim.proofs[c], inst);
        }
        uint256[2][] memory list = commitmentOf(log);
        if (mode == 15) (list[0], list[1]) = (list[1], list[0]);
        calls["chunkProof"] += 1;
        vm.prank(h);
        try rm.submitUpdate(roundId, list, "cid", samples, claim) {
            successes["submitBounded"] += 1;
            if (boundSq == 0) _flag("norm claim accepted in an unbounded round");
            if (mode >= 9) _flag("chunked submission accepted with a spoilt statement");
            if (mode == 15) {
                _flag("chunked submission accepted with a reordered list");
            } else {
                _subs[roundId].push(GhostSubmission(h, log, samples));
            }
        } catch {}
    }

    /// @dev Chunk `c`'s proof [C(2^s u_c), previous model chunk c, C(p)] and the instances it was made for [flag,
    /// b_c (the caller sets it), c, CHUNKS, limbs of `limbsOf`], with mode 13 or 14 applied.
    function _chunkStatement(uint256 roundId, uint256 log, uint256 c, uint256 mode, address limbsOf)
        internal
        view
        returns (bytes memory proof, uint256[] memory inst)
    {
        GhostRound storage g = _rounds[roundId];
        uint256 u = chunkLog(log, c);
        uint256 point0 = mode == 13 ? u : G1.scaled(K_LOG, u, SCALE_BITS);
        uint256 prev = modelChunkLog(g.prevRound, c);
        uint256 point1 = mode == 14 ? addmod(prev, 1, G1.R) : prev;
        proof = abi.encodePacked(G1.mulG(point0), G1.mulG(point1), G1.mulG(12345), "chunk-proof-body");
        inst = new uint256[](9);
        inst[0] = FLAG_OK;
        inst[2] = c;
        inst[3] = CHUNKS;
        for (uint256 i = 0; i < 5; i++) {
            inst[4 + i] = (uint256(uint160(limbsOf)) >> (32 * i)) & 0xffffffff;
        }
    }

    function finalize(uint256 maskSeed, uint256 cidSeed, bool afterDeadline) external step("finalize") {
        _finalize(maskSeed, cidSeed, afterDeadline);
    }

    function _finalize(uint256 maskSeed, uint256 cidSeed, bool afterDeadline) internal {
        uint256 roundId = lastRound;
        if (afterDeadline && roundId != 0) _warpPast(rm.getRound(roundId).deadline);
        uint256 n = _subs[roundId].length;
        // mostly none excluded; else any mask, whose top bit (an empty slot) is invalid
        uint256 mask = maskSeed % 4 != 0 ? 0 : (maskSeed >> 2) % (uint256(1) << (n + 1));
        string memory cid = _cid(cidSeed);
        IRoundManager.RoundInfo memory before = rm.getRound(roundId);
        vm.prank(AGGREGATOR);
        try rm.finalizeRound(roundId, cid, mask) {
            successes["finalize"] += 1;
            _checkFinalizeRules(before, mask, n);
            GhostRound storage g = _rounds[roundId];
            g.phase = IRoundManager.Phase.Finalized;
            g.mask = mask;
            g.modelLog = fedAvgLog(roundId, mask);
        } catch {}
    }

    /// @param mode mostly (0-10 of 16) an approved proof over the round's slot points with a zero certificate;
    /// 11 the verifier rejects, 12 a non-zero certificate, 13-15 one slot's point is another (mode % SLOTS).
    function finalizeMedian(uint256 maskSeed, uint256 mode, uint256 modelSeed, bool afterDeadline)
        external
        step("finalizeMedian")
    {
        _finalizeMedian(maskSeed, mode, modelSeed, afterDeadline);
    }

    function _finalizeMedian(uint256 maskSeed, uint256 mode, uint256 modelSeed, bool afterDeadline) internal {
        uint256 roundId = lastRound;
        if (afterDeadline && roundId != 0) _warpPast(rm.getRound(roundId).deadline);
        mode = mode % 16;
        uint256 n = _subs[roundId].length;
        uint256 mask = maskSeed % 4 != 0 ? 0 : (maskSeed >> 2) % (uint256(1) << n);
        uint256 corruptSlot = mode >= 13 ? mode % SLOTS : SLOTS;
        uint256 modelLog = bound(modelSeed, 1, G1.R - 1);
        bytes memory proof = _medianProof(roundId, mask, corruptSlot, modelLog);
        uint256[] memory inst = new uint256[](1);
        inst[0] = mode == 12 ? 1 + (modelSeed % 1000) : 0;
        medianVerifier.set(mode != 11, false);
        IRoundManager.RoundInfo memory before = rm.getRound(roundId);
        vm.prank(AGGREGATOR);
        try rm.finalizeMedianRound(roundId, proof, inst, "model-cid", "proof-cid", mask) {
            successes["finalizeMedian"] += 1;
            _checkFinalizeRules(before, mask, n);
            if (mode == 11) _flag("median round finalized without the verifier's approval");
            if (mode == 12) _flag("median round finalized with a non-zero certificate");
            if (corruptSlot < SLOTS) _flag("median round finalized with a proof over other slot points");
            GhostRound storage g = _rounds[roundId];
            g.phase = IRoundManager.Phase.Finalized;
            g.mask = mask;
            g.modelLog = modelLog;
        } catch {}
    }

    /// @dev Points 0..SLOTS-1: C(2^s u_i) for included slots, the previous model otherwise (one of them replaced
    /// when `corruptSlot` < SLOTS); point SLOTS: the new model.
    function _medianProof(uint256 roundId, uint256 mask, uint256 corruptSlot, uint256 modelLog)
        internal
        view
        returns (bytes memory proof)
    {
        GhostSubmission[] storage subs = _subs[roundId];
        for (uint256 i = 0; i < SLOTS; i++) {
            bool included = i < subs.length && (mask >> i) & 1 == 0;
            uint256 log = included ? G1.scaled(K_LOG, subs[i].log, SCALE_BITS) : _rounds[roundId].prevLog;
            if (i == corruptSlot) log = addmod(log, 1, G1.R);
            proof = abi.encodePacked(proof, G1.mulG(log));
        }
        proof = abi.encodePacked(proof, G1.mulG(modelLog), "median-proof-body");
    }

    function abort(uint256 actorSeed, bool afterDeadline) external step("abort") {
        uint256 roundId = lastRound;
        if (afterDeadline && roundId != 0) _warpPast(rm.getRound(roundId).deadline);
        uint256 which = actorSeed % 4;
        address actor = which == 0 ? address(this) : which == 1 ? AGGREGATOR : which == 2 ? _actor(actorSeed) : OUTSIDER;
        IRoundManager.RoundInfo memory before = rm.getRound(roundId);
        vm.prank(actor);
        try rm.abortRound(roundId) {
            successes["abort"] += 1;
            if (block.timestamp <= before.deadline) _flag("round aborted before its deadline");
            if (before.submissionCount >= before.quorum && block.timestamp <= before.deadline + rm.FINALIZE_WINDOW()) {
                _flag("round with a quorum aborted before the aggregator's deadline");
            }
            _rounds[roundId].phase = IRoundManager.Phase.Aborted;
        } catch {}
    }

    /// @notice A hospital reports a model: mostly the current model's round (possibly under a later open or aborted
    /// round), sometimes the latest round or the one before it (rejected unless it is the current model).
    function reportUnavailable(uint256 actorSeed, uint256 olderSeed) external step("reportUnavailable") {
        address h = _actor(actorSeed);
        (uint256 modelRound,) = currentModel();
        uint256 which = olderSeed % 4;
        uint256 roundId = which < 2 ? modelRound : which == 2 ? lastRound : (lastRound > 0 ? lastRound - 1 : 0);
        (uint256 openedBlock, uint256 members,) = rm.roundOpening(roundId);
        uint256 since = registry.memberSince(h);
        uint256 latest = lastRound;
        IRoundManager.Phase latestPhase = rm.getRound(latest).phase;
        vm.prank(h);
        try rm.reportModelUnavailable(roundId) {
            successes["reportUnavailable"] += 1;
            GhostRound storage g = _rounds[roundId];
            if (roundId != modelRound) _flag("report accepted for a model that is not current");
            if (since >= openedBlock) _flag("report accepted from a hospital admitted after the round opened");
            g.reports += 1;
            if (g.reports >= members / 2 + 1) {
                g.phase = IRoundManager.Phase.RolledBack;
                if (latest != roundId && latestPhase == IRoundManager.Phase.Open) {
                    _rounds[latest].phase = IRoundManager.Phase.Aborted; // trained on the rolled-back model
                }
            }
            if (rm.getRound(roundId).phase == IRoundManager.Phase.RolledBack && 2 * g.reports <= members) {
                _flag("rolled back by a minority of the members at opening");
            }
        } catch {}
    }

    /// @notice The admin sets a hospital's agreed sample cap (sometimes 0 or a non-hospital: rejected).
    function setCap(uint256 actorSeed, uint256 capSeed) external step("setCap") {
        uint64 cap = uint64(bound(capSeed, 0, rm.MAX_SAMPLE_COUNT()));
        try registry.setSampleCap(hospital(actorSeed), cap) {
            successes["setCap"] += 1;
            if (cap == 0) _flag("a zero sample cap accepted");
        } catch {}
    }

    function admit(uint256 actorSeed) external step("admit") {
        try registry.admitMember(hospital(actorSeed), IConsortiumRegistry.Role.Hospital, "hospital") {
            successes["admit"] += 1;
        } catch {}
    }

    function remove(uint256 actorSeed) external step("remove") {
        try registry.removeMember(hospital(actorSeed)) {
            successes["remove"] += 1;
        } catch {}
    }

    /// @notice A non-member calls one entry point with otherwise plausible arguments; nothing may change
    /// (except abortRound's permissionless case: an expired round short of its quorum).
    function outsiderCall(uint256 which, uint256 logSeed, uint256 maskSeed) external step("outsiderCall") {
        bytes32 before = stateDigest();
        uint256 roundId = lastRound;
        IRoundManager.RoundInfo memory r = rm.getRound(roundId);
        uint256 log = _commitmentLog(logSeed);
        uint256[2][] memory c = commitmentOf(log);
        IRoundManager.NormClaim memory claim = _claim(CHUNKS);
        for (uint256 k = 0; k < CHUNKS; k++) {
            uint256[] memory inst;
            (claim.proofs[k], inst) = _chunkStatement(roundId, log, k, 0, OUTSIDER);
            claim.budgets[k] = r.normBoundSq / CHUNKS;
        }
        which = which % 9;
        bool ok;
        vm.prank(OUTSIDER);
        if (which == 0) {
            try rm.openRoundWithPolicy(uint64(ghostTime + 1 hours), 1, IRoundManager.AggregationRule.FedAvg, 0) {
                ok = true;
            } catch {}
        } else if (which == 1) {
            try rm.submitUpdate(roundId, c, "cid", 10, _noClaim()) {
                ok = true;
            } catch {}
        } else if (which == 2) {
            try rm.submitUpdate(roundId, c, "cid", 10, claim) {
                ok = true;
            } catch {}
        } else if (which == 3) {
            try rm.finalizeRound(roundId, "cid", maskSeed % 32) {
                ok = true;
            } catch {}
        } else if (which == 4) {
            try rm.finalizeMedianRound(roundId, "", new uint256[](1), "cid", "cid", maskSeed % 32) {
                ok = true;
            } catch {}
        } else if (which == 5) {
            try rm.reportModelUnavailable(roundId) {
                ok = true;
            } catch {}
        } else if (which == 6) {
            try rm.abortRound(roundId) {
                ok = true;
            } catch {}
        } else if (which == 7) {
            try rm.recordAudit(roundId, true, "cid") {
                ok = true;
            } catch {}
        } else {
            try registry.admitMember(OUTSIDER, IConsortiumRegistry.Role.Hospital, "me") {
                ok = true;
            } catch {}
        }
        bool permissionlessAbort = which == 6 && r.phase == IRoundManager.Phase.Open && block.timestamp > r.deadline
            && (r.submissionCount < r.quorum || block.timestamp > r.deadline + rm.FINALIZE_WINDOW());
        if (ok) successes["outsiderCall"] += 1;
        if (permissionlessAbort && ok) {
            _rounds[roundId].phase = IRoundManager.Phase.Aborted;
        } else if (ok || stateDigest() != before) {
            _flag("a non-member's call changed state");
        }
    }

    // --- ghost views ----------------------------------------------------------------------------------

    function hospital(uint256 seed) public pure returns (address) {
        return address(uint160(0x1000 + (seed % POOL)));
    }

    function ghostRound(uint256 id) external view returns (GhostRound memory) {
        return _rounds[id];
    }

    function ghostSubmissions(uint256 id) external view returns (GhostSubmission[] memory) {
        return _subs[id];
    }

    /// @notice The discrete log of the current model: the latest finalized round's, or genesis.
    function currentModelLog() public view returns (uint256) {
        (uint256 id, uint256 log) = currentModel();
        id;
        return log;
    }

    /// @notice Discrete log of chunk `c` of a commitment whose chunk 0 has discrete log `log`.
    function chunkLog(uint256 log, uint256 c) public pure returns (uint256) {
        return addmod(log, mulmod(c, CHUNK_STRIDE, G1.R), G1.R);
    }

    /// @notice The commitment list of a submission with ghost log `log`: chunkLog(log, c) * G for each chunk.
    function commitmentOf(uint256 log) public view returns (uint256[2][] memory points) {
        points = new uint256[2][](CHUNKS);
        for (uint256 c = 0; c < CHUNKS; c++) {
            points[c] = G1.mulG(chunkLog(log, c));
        }
    }

    /// @notice Discrete log of chunk `c` of the model round `roundId` made (0: genesis, GENESIS_LOG + c).
    function modelChunkLog(uint256 roundId, uint256 c) public view returns (uint256) {
        if (roundId == 0) return GENESIS_LOG + c;
        GhostRound storage g = _rounds[roundId];
        if (g.rule == IRoundManager.AggregationRule.Median) return g.modelLog;
        return fedAvgChunkLog(roundId, g.mask, c);
    }

    /// @notice keccak256 of the packed points of the model round `roundId` made, recomputed from discrete logs.
    function modelHashOf(uint256 roundId) public view returns (bytes32) {
        uint256[2][] memory points = new uint256[2][](CHUNKS);
        for (uint256 c = 0; c < CHUNKS; c++) {
            points[c] = G1.mulG(modelChunkLog(roundId, c));
        }
        return G1.hashPoints(points);
    }

    function currentModel() public view returns (uint256 roundId, uint256 log) {
        for (uint256 id = lastRound; id > 0; id--) {
            if (_rounds[id].phase == IRoundManager.Phase.Finalized) return (id, _rounds[id].modelLog);
        }
        return (0, GENESIS_LOG);
    }

    /// @notice The FedAvg weights, written out again from the protocol (DESIGN: over the free slots, w_i = 1 +
    /// floor(n_i (R - |F|) / N), the remainder to the first free slot; a free slot above the share cap
    /// ceil(2^s / min(m, 3)) is capped and leaves F, R = 2^s - cap * capped; repeat until none is above).
    function weights(uint256 id, uint256 mask) public view returns (uint256[] memory w) {
        GhostSubmission[] storage subs = _subs[id];
        w = new uint256[](SLOTS);
        bool[] memory free = new bool[](subs.length);
        uint256 m;
        for (uint256 i = 0; i < subs.length; i++) {
            free[i] = (mask >> i) & 1 == 0;
            if (free[i]) m += 1;
        }
        if (m == 0) return w;
        uint256 cap = shareCap(m);
        uint256 rest = ONE;
        for (uint256 n = _fill(w, subs, free, rest, cap); n != 0; n = _fill(w, subs, free, rest, cap)) {
            rest -= cap * n; // the slots capped in this step left the free set with `cap` units each
        }
    }

    /// @dev One water-filling step: `rest` units over the free slots, then every free slot above `cap` is capped and
    /// leaves the free set; returns how many were.
    function _fill(uint256[] memory w, GhostSubmission[] storage subs, bool[] memory free, uint256 rest, uint256 cap)
        internal
        view
        returns (uint256 capped)
    {
        (uint256 total, uint256 f, uint256 first) = _freeSet(subs, free);
        uint256 sum;
        for (uint256 i = 0; i < free.length; i++) {
            if (free[i]) {
                w[i] = 1 + (subs[i].samples * (rest - f)) / total;
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

    /// @notice The free slots' total count, number and first slot.
    function _freeSet(GhostSubmission[] storage subs, bool[] memory free)
        internal
        view
        returns (uint256 total, uint256 f, uint256 first)
    {
        first = SLOTS;
        for (uint256 i = 0; i < subs.length; i++) {
            if (free[i]) {
                total += subs[i].samples;
                f += 1;
                if (first == SLOTS) first = i;
            }
        }
    }

    /// @notice ceil(2^s / min(m, 3)): the most one of m included slots may weigh.
    function shareCap(uint256 m) public pure returns (uint256) {
        uint256 k = m < 3 ? m : 3;
        return (ONE + k - 1) / k;
    }

    /// @notice log(K + sum_i w_i (C_i - K)) modulo the group order (chunk 0).
    function fedAvgLog(uint256 id, uint256 mask) public view returns (uint256) {
        return fedAvgChunkLog(id, mask, 0);
    }

    /// @notice log(K + sum_i w_i (C_ic - K)) modulo the group order: chunk c of the FedAvg aggregate.
    function fedAvgChunkLog(uint256 id, uint256 mask, uint256 c) public view returns (uint256 acc) {
        uint256[] memory w = weights(id, mask);
        GhostSubmission[] storage subs = _subs[id];
        acc = K_LOG;
        for (uint256 i = 0; i < subs.length; i++) {
            uint256 u = chunkLog(subs[i].log, c);
            if (w[i] != 0) acc = addmod(acc, mulmod(w[i], addmod(u, G1.R - K_LOG, G1.R), G1.R), G1.R);
        }
    }

    /// @notice A digest of everything observable: every round, every submission, the current model, membership.
    function stateDigest() public view returns (bytes32 d) {
        uint256 current = rm.currentRoundId();
        (bytes32 model, uint256 modelRound) = rm.currentModel();
        d = keccak256(abi.encode(current, model, modelRound, registry.hospitalCount(), registry.admin()));
        for (uint256 id = 1; id <= current; id++) {
            IRoundManager.RoundInfo memory r = rm.getRound(id);
            d = keccak256(abi.encode(d, r));
            for (uint256 s = 0; s < r.submissionCount; s++) {
                d = keccak256(abi.encode(d, rm.getSubmission(id, s)));
            }
            d = keccak256(abi.encode(d, rm.challengeEnd(id), rm.faultedSlots(id)));
        }
        for (uint256 i = 0; i < POOL; i++) {
            d = keccak256(abi.encode(d, registry.roleOf(hospital(i))));
        }
        d = keccak256(abi.encode(d, registry.roleOf(OUTSIDER)));
    }

    // --- internals ------------------------------------------------------------------------------------

    function _genesis(uint256 chunks_) internal view returns (uint256[2][] memory points) {
        points = new uint256[2][](chunks_);
        for (uint256 c = 0; c < chunks_; c++) {
            points[c] = G1.mulG(GENESIS_LOG + c);
        }
    }

    /// @dev Three times in four the first pool member (from the seed on) that has not submitted to the latest
    /// round yet; otherwise any pool member (possibly a non-member, possibly one that already submitted).
    function _actor(uint256 seed) internal view returns (address) {
        if (seed % 4 == 0) return hospital(seed >> 2);
        for (uint256 i = 0; i < POOL; i++) {
            address h = hospital((seed >> 2) + i);
            if (registry.isHospital(h) && !_submitted(lastRound, h)) return h;
        }
        return hospital(seed >> 2);
    }

    function _submitted(uint256 roundId, address h) internal view returns (bool) {
        GhostSubmission[] storage subs = _subs[roundId];
        for (uint256 i = 0; i < subs.length; i++) {
            if (subs[i].hospital == h) return true;
        }
        return false;
    }

    /// @dev Mostly a fresh random point; sometimes K (rejected), sometimes a commitment already used (rejected).
    function _commitmentLog(uint256 seed) internal returns (uint256) {
        uint256 kind = seed % 16;
        if (kind == 0) return K_LOG;
        if (kind == 1 && lastRound > 0 && _subs[lastRound].length > 0) return _subs[lastRound][0].log;
        _nonce += 1;
        return bound(uint256(keccak256(abi.encode(seed, _nonce))), 1, G1.R - 1);
    }

    /// @dev A CID of 0 (invalid), 1..128 (valid, mostly) or 129 (invalid) bytes.
    function _cid(uint256 seed) internal pure returns (string memory) {
        uint256 kind = seed % 16;
        uint256 length = kind == 0 ? 0 : kind == 1 ? 129 : bound(seed >> 8, 1, 128);
        bytes memory b = new bytes(length);
        for (uint256 i = 0; i < length; i++) {
            b[i] = "b";
        }
        return string(b);
    }

    /// @dev The timing and quorum rules of a finalization that succeeded: every member at opening submitted or the
    /// deadline passed; not after the aggregator's deadline; at least the quorum included.
    function _checkFinalizeRules(IRoundManager.RoundInfo memory before, uint256 mask, uint256 n) internal {
        if (before.submissionCount < before.members && block.timestamp <= before.deadline) {
            _flag("finalized before the deadline without every member's submission");
        }
        if (block.timestamp > before.deadline + rm.FINALIZE_WINDOW()) _flag("finalized after the aggregator's deadline");
        uint256 included;
        for (uint256 i = 0; i < n; i++) {
            if ((mask >> i) & 1 == 0) included += 1;
        }
        if (included < before.quorum) _flag("finalized with fewer included updates than the quorum");
    }

    function _warpPast(uint64 deadline) internal {
        if (ghostTime <= deadline) {
            ghostTime = uint256(deadline) + 1;
            ghostBlock += 1;
            vm.warp(ghostTime);
            vm.roll(ghostBlock);
        }
    }

    function _flag(string memory what) internal {
        if (bytes(violation).length == 0) violation = what;
    }

    /// @dev Only None->Open, Open->Finalized, Open->Aborted and Finalized->RolledBack.
    function _checkTransitions() internal {
        uint256 current = rm.currentRoundId();
        for (uint256 id = 1; id <= current + 1; id++) {
            IRoundManager.Phase was = _seenPhase[id];
            IRoundManager.Phase now_ = rm.getRound(id).phase;
            if (was == now_) continue;
            bool allowed = (was == IRoundManager.Phase.None && now_ == IRoundManager.Phase.Open)
                || (was == IRoundManager.Phase.Open
                    && (now_ == IRoundManager.Phase.Finalized || now_ == IRoundManager.Phase.Aborted))
                || (was == IRoundManager.Phase.Finalized && now_ == IRoundManager.Phase.RolledBack);
            if (!allowed) _flag("illegal phase transition");
            _seenPhase[id] = now_;
        }
    }
}
