// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IRoundManager} from "./interfaces/IRoundManager.sol";

/// @title ConsortiumRegistry
/// @notice Membership of the hospital consortium and the aggregator enclave's public key.
contract ConsortiumRegistry is IConsortiumRegistry {
    address private _admin;
    mapping(address account => Role) private _roles;
    address private _aggregator;
    uint256 private _hospitalCount;

    bytes32 private _enclaveKeyHash;
    string private _enclaveKeyCid;
    bytes32 private _enclaveMeasurement;
    mapping(address account => uint64) private _sampleCaps;
    mapping(address account => uint256) private _memberSince;

    address private _predictionRegistry;

    EvidenceKind private _enclaveEvidenceKind;
    uint64 private _enclaveRegisteredAt;
    string private _enclaveEvidenceCid;
    address private _roundManager;
    mapping(EvidenceKind kind => bool) private _acceptedKinds;
    mapping(bytes32 measurement => bool) private _allowedMeasurements;
    mapping(bytes32 measurement => address[]) private _approvers;
    mapping(bytes32 measurement => mapping(address hospital => bool)) private _approved;

    modifier onlyAdmin() {
        if (msg.sender != _admin) revert ConsortiumRegistryNotAdmin(msg.sender);
        _;
    }

    constructor(address initialAdmin) {
        if (initialAdmin == address(0)) revert ConsortiumRegistryZeroAddress();
        _admin = initialAdmin;
        emit AdminTransferred(address(0), initialAdmin);
        _setEvidenceKindAccepted(EvidenceKind.AwsNitro, true);
        _setEvidenceKindAccepted(EvidenceKind.IntelTdx, true);
        _setEvidenceKindAccepted(EvidenceKind.AmdSevSnp, true);
    }

    /// @inheritdoc IConsortiumRegistry
    function admitMember(address account, Role role, string calldata name) external onlyAdmin {
        _admit(account, role, name);
    }

    /// @inheritdoc IConsortiumRegistry
    function admitHospital(address account, string calldata name, uint64 maxSamples) external onlyAdmin {
        if (maxSamples == 0) revert ConsortiumRegistryInvalidSampleCap(maxSamples);
        _admit(account, Role.Hospital, name);
        _sampleCaps[account] = maxSamples;
        emit SampleCapSet(account, maxSamples);
    }

    /// @inheritdoc IConsortiumRegistry
    function setSampleCap(address account, uint64 maxSamples) external onlyAdmin {
        if (_roles[account] != Role.Hospital) revert ConsortiumRegistryNotHospital(account);
        if (maxSamples == 0) revert ConsortiumRegistryInvalidSampleCap(maxSamples);
        _sampleCaps[account] = maxSamples;
        emit SampleCapSet(account, maxSamples);
    }

    function _admit(address account, Role role, string calldata name) internal {
        if (account == address(0)) revert ConsortiumRegistryZeroAddress();
        if (role == Role.None) revert ConsortiumRegistryInvalidRole();
        Role current = _roles[account];
        if (current != Role.None) revert ConsortiumRegistryAlreadyMember(account, current);
        if (role == Role.Aggregator && _aggregator != address(0)) {
            revert ConsortiumRegistryAggregatorAlreadySet(_aggregator);
        }

        _roles[account] = role;
        _memberSince[account] = block.number;
        if (role == Role.Hospital) _hospitalCount += 1;
        if (role == Role.Aggregator) _aggregator = account;
        emit MemberAdmitted(account, role, name);
    }

    /// @inheritdoc IConsortiumRegistry
    function removeMember(address account) external onlyAdmin {
        Role current = _roles[account];
        if (current == Role.None) revert ConsortiumRegistryNotMember(account);

        delete _roles[account];
        delete _memberSince[account];
        if (_sampleCaps[account] != 0) {
            delete _sampleCaps[account];
            emit SampleCapSet(account, 0);
        }
        if (current == Role.Hospital) _hospitalCount -= 1;
        if (current == Role.Aggregator) {
            _aggregator = address(0);
            delete _enclaveKeyHash;
            delete _enclaveKeyCid;
            delete _enclaveMeasurement;
            delete _enclaveEvidenceKind;
            delete _enclaveRegisteredAt;
            delete _enclaveEvidenceCid;
        }
        emit MemberRemoved(account, current);
    }

    /// @inheritdoc IConsortiumRegistry
    function transferAdmin(address newAdmin) external onlyAdmin {
        if (newAdmin == address(0)) revert ConsortiumRegistryZeroAddress();
        address previous = _admin;
        _admin = newAdmin;
        emit AdminTransferred(previous, newAdmin);
    }

    /// @inheritdoc IConsortiumRegistry
    function registerEnclaveKey(
        bytes32 keyHash,
        string calldata keyCid,
        EvidenceKind kind,
        bytes32 measurement,
        string calldata evidenceCid
    ) external {
        if (msg.sender != _aggregator || _aggregator == address(0)) revert ConsortiumRegistryNotAggregator(msg.sender);
        if (keyHash == bytes32(0) || bytes(keyCid).length == 0 || bytes(evidenceCid).length == 0) {
            revert ConsortiumRegistryInvalidEnclaveKey();
        }
        if (!_acceptedKinds[kind]) revert ConsortiumRegistryEvidenceKindNotAccepted(kind);
        bool allowed = kind == EvidenceKind.Development ? measurement == bytes32(0) : _allowedMeasurements[measurement];
        if (!allowed) revert ConsortiumRegistryMeasurementNotAllowed(kind, measurement);
        _requireNoOpenRound();

        _enclaveKeyHash = keyHash;
        _enclaveKeyCid = keyCid;
        _enclaveMeasurement = measurement;
        _enclaveEvidenceKind = kind;
        _enclaveRegisteredAt = uint64(block.timestamp);
        _enclaveEvidenceCid = evidenceCid;
        emit EnclaveKeyRegistered(msg.sender, keyHash, keyCid, kind, measurement, evidenceCid);
    }

    function _requireNoOpenRound() internal view {
        if (_roundManager == address(0)) return;
        IRoundManager rm = IRoundManager(_roundManager);
        uint256 roundId = rm.currentRoundId();
        if (roundId != 0 && rm.getRound(roundId).phase == IRoundManager.Phase.Open) {
            revert ConsortiumRegistryRoundOpen(roundId);
        }
    }

    /// @inheritdoc IConsortiumRegistry
    function approveMeasurement(bytes32 measurement) external {
        if (_roles[msg.sender] != Role.Hospital) revert ConsortiumRegistryNotHospital(msg.sender);
        if (_approved[measurement][msg.sender]) revert ConsortiumRegistryAlreadyApproved(msg.sender, measurement);

        _approved[measurement][msg.sender] = true;
        _approvers[measurement].push(msg.sender);
        uint256 approvals = _currentApprovals(measurement);
        emit MeasurementApproved(measurement, msg.sender, approvals);
        if (!_allowedMeasurements[measurement] && approvals * 2 > _hospitalCount) {
            _allowedMeasurements[measurement] = true;
            emit MeasurementAllowed(measurement, true);
        }
    }

    /// @inheritdoc IConsortiumRegistry
    function revokeMeasurement(bytes32 measurement) external onlyAdmin {
        address[] storage approvers = _approvers[measurement];
        for (uint256 i = 0; i < approvers.length; ++i) {
            delete _approved[measurement][approvers[i]];
        }
        delete _approvers[measurement];
        if (_allowedMeasurements[measurement]) {
            _allowedMeasurements[measurement] = false;
            emit MeasurementAllowed(measurement, false);
        }
    }

    function _currentApprovals(bytes32 measurement) internal view returns (uint256 n) {
        address[] storage approvers = _approvers[measurement];
        for (uint256 i = 0; i < approvers.length; ++i) {
            if (_roles[approvers[i]] == Role.Hospital) n += 1;
        }
    }

    /// @inheritdoc IConsortiumRegistry
    function setEvidenceKindAccepted(EvidenceKind kind, bool accepted) external onlyAdmin {
        if (kind == EvidenceKind.None) revert ConsortiumRegistryEvidenceKindNotAccepted(kind);
        _setEvidenceKindAccepted(kind, accepted);
    }

    function _setEvidenceKindAccepted(EvidenceKind kind, bool accepted) internal {
        _acceptedKinds[kind] = accepted;
        emit EvidenceKindAccepted(kind, accepted);
    }

    /// @inheritdoc IConsortiumRegistry
    function setRoundManager(address roundManager_) external onlyAdmin {
        if (_roundManager != address(0)) revert ConsortiumRegistryRoundManagerAlreadySet(_roundManager);
        if (roundManager_.code.length == 0) revert ConsortiumRegistryNotContract(roundManager_);
        _roundManager = roundManager_;
        emit RoundManagerSet(roundManager_);
    }

    /// @inheritdoc IConsortiumRegistry
    function isMeasurementAllowed(bytes32 measurement) external view returns (bool) {
        return _allowedMeasurements[measurement];
    }

    /// @inheritdoc IConsortiumRegistry
    function measurementApprovals(bytes32 measurement) external view returns (uint256) {
        return _currentApprovals(measurement);
    }

    /// @inheritdoc IConsortiumRegistry
    function isEvidenceKindAccepted(EvidenceKind kind) external view returns (bool) {
        return _acceptedKinds[kind];
    }

    /// @inheritdoc IConsortiumRegistry
    function enclaveEvidence()
        external
        view
        returns (EvidenceKind kind, string memory evidenceCid, uint64 registeredAt)
    {
        return (_enclaveEvidenceKind, _enclaveEvidenceCid, _enclaveRegisteredAt);
    }

    /// @inheritdoc IConsortiumRegistry
    function roundManager() external view returns (address) {
        return _roundManager;
    }

    /// @inheritdoc IConsortiumRegistry
    function admin() external view returns (address) {
        return _admin;
    }

    /// @inheritdoc IConsortiumRegistry
    function roleOf(address account) external view returns (Role) {
        return _roles[account];
    }

    /// @inheritdoc IConsortiumRegistry
    function isHospital(address account) external view returns (bool) {
        return _roles[account] == Role.Hospital;
    }

    /// @inheritdoc IConsortiumRegistry
    function isAuditor(address account) external view returns (bool) {
        return _roles[account] == Role.Auditor;
    }

    /// @inheritdoc IConsortiumRegistry
    function aggregator() external view returns (address) {
        return _aggregator;
    }

    /// @inheritdoc IConsortiumRegistry
    function hospitalCount() external view returns (uint256) {
        return _hospitalCount;
    }

    /// @inheritdoc IConsortiumRegistry
    function enclaveKey() external view returns (bytes32 keyHash, string memory keyCid, bytes32 measurement) {
        return (_enclaveKeyHash, _enclaveKeyCid, _enclaveMeasurement);
    }

    /// @inheritdoc IConsortiumRegistry
    function setPredictionRegistry(address predictionRegistry_) external onlyAdmin {
        if (predictionRegistry_ != address(0) && predictionRegistry_.code.length == 0) {
            revert ConsortiumRegistryNotContract(predictionRegistry_);
        }

        address previous = _predictionRegistry;
        _predictionRegistry = predictionRegistry_;
        emit PredictionRegistrySet(previous, predictionRegistry_);
    }

    /// @inheritdoc IConsortiumRegistry
    function predictionRegistry() external view returns (address) {
        return _predictionRegistry;
    }

    /// @inheritdoc IConsortiumRegistry
    function sampleCapOf(address account) external view returns (uint64) {
        return _sampleCaps[account];
    }

    /// @inheritdoc IConsortiumRegistry
    function memberSince(address account) external view returns (uint256) {
        return _memberSince[account];
    }
}
