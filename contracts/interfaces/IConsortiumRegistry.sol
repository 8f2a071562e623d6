// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title IConsortiumRegistry
/// @notice Who belongs to the consortium, in which role, and the aggregator enclave's public key.
/// @dev Every change emits an event; auditors rebuild membership over time from these events alone.
interface IConsortiumRegistry {
    /// @notice A member's role. `None` marks a non-member.
    enum Role {
        None,
        Hospital,
        Auditor,
        Aggregator
    }

    /// @notice What vouches for the enclave key (docs/auditors.md, "Attestation"). `Development`: no TEE at all
    /// (measurement zero; whoever runs the aggregator can read every update), accepted only where the consortium
    /// opted in. The others are vendor-signed evidence whose file is at the key's evidence CID.
    enum EvidenceKind {
        None,
        Development,
        AwsNitro,
        IntelTdx,
        AmdSevSnp
    }

    /// @notice The caller is not the consortium admin.
    error ConsortiumRegistryNotAdmin(address caller);
    /// @notice The zero address cannot be a member or the admin.
    error ConsortiumRegistryZeroAddress();
    /// @notice `Role.None` was given where a real role is required.
    error ConsortiumRegistryInvalidRole();
    /// @notice The account already holds a role; remove it first to change roles.
    error ConsortiumRegistryAlreadyMember(address account, Role role);
    /// @notice The account holds no role.
    error ConsortiumRegistryNotMember(address account);
    /// @notice Only one aggregator enclave may be registered at a time.
    error ConsortiumRegistryAggregatorAlreadySet(address current);
    /// @notice The caller is not the registered aggregator.
    error ConsortiumRegistryNotAggregator(address caller);
    /// @notice An enclave key registration carried an empty hash, key CID or evidence CID.
    error ConsortiumRegistryInvalidEnclaveKey();
    /// @notice The consortium does not accept enclave keys vouched for by `kind` (see `setEvidenceKindAccepted`).
    error ConsortiumRegistryEvidenceKindNotAccepted(EvidenceKind kind);
    /// @notice `measurement` is not on the consortium's allowlist (a member majority approves it), or a development
    /// enclave's measurement is not zero.
    error ConsortiumRegistryMeasurementNotAllowed(EvidenceKind kind, bytes32 measurement);
    /// @notice Round `roundId` is open: the enclave key cannot change until it is finalized or aborted, so every
    /// submission of a round is sealed to the one key registered when it opened.
    error ConsortiumRegistryRoundOpen(uint256 roundId);
    /// @notice The RoundManager whose open rounds lock the enclave key is set once.
    error ConsortiumRegistryRoundManagerAlreadySet(address current);
    /// @notice `hospital` already approved `measurement`.
    error ConsortiumRegistryAlreadyApproved(address hospital, bytes32 measurement);
    /// @notice `account` holds no contract code, so it cannot be the deployment's PredictionRegistry.
    error ConsortiumRegistryNotContract(address account);
    /// @notice A sample-count cap must be positive.
    error ConsortiumRegistryInvalidSampleCap(uint64 maxSamples);
    /// @notice Sample-count caps are for member hospitals only.
    error ConsortiumRegistryNotHospital(address account);

    /// @notice `account` was admitted with `role`; `name` is a human-readable label (no patient data).
    event MemberAdmitted(address indexed account, Role indexed role, string name);
    /// @notice `account` lost its `role`.
    event MemberRemoved(address indexed account, Role indexed role);
    /// @notice The aggregator published its ML-KEM-768 public key: `keyHash` is its SHA-256, `keyCid` its
    /// IPFS CID; `kind`, `measurement` and the evidence file at `evidenceCid` say what vouches for it
    /// (`measurement` is zkfl's measurement id, zero for a development enclave).
    event EnclaveKeyRegistered(
        address indexed aggregator,
        bytes32 keyHash,
        string keyCid,
        EvidenceKind kind,
        bytes32 measurement,
        string evidenceCid
    );
    /// @notice `hospital` approved `measurement`; `approvals` hospitals (still members) have approved it.
    event MeasurementApproved(bytes32 indexed measurement, address indexed hospital, uint256 approvals);
    /// @notice `measurement` joined (`allowed`) or left the allowlist.
    event MeasurementAllowed(bytes32 indexed measurement, bool allowed);
    /// @notice The consortium accepts (or no longer accepts) enclave keys vouched for by `kind`.
    event EvidenceKindAccepted(EvidenceKind indexed kind, bool accepted);
    /// @notice The RoundManager whose open rounds lock the enclave key.
    event RoundManagerSet(address indexed roundManager);
    /// @notice Admin rights moved from `previousAdmin` to `newAdmin`.
    event AdminTransferred(address indexed previousAdmin, address indexed newAdmin);
    /// @notice The deployment's PredictionRegistry moved from `previous` to `predictionRegistry` (the zero
    /// address: none). Auditors and the web UI find the registry here, not in a local file.
    event PredictionRegistrySet(address indexed previous, address indexed predictionRegistry);
    /// @notice The consortium agreed that hospital `account` declares at most `maxSamples` training samples per
    /// update (RoundManager refuses a larger count); 0 means none was agreed (RoundManager's MAX_SAMPLE_COUNT).
    event SampleCapSet(address indexed account, uint64 maxSamples);

    /// @notice Admit `account` with `role`. Admin only.
    function admitMember(address account, Role role, string calldata name) external;

    /// @notice Remove `account` from the consortium. Admin only. Removing the aggregator also clears its key.
    function removeMember(address account) external;

    /// @notice Hand admin rights to `newAdmin`. Admin only.
    function transferAdmin(address newAdmin) external;

    /// @notice The aggregator registers (or rotates) its enclave public key with what vouches for it. Aggregator
    /// only; `kind` must be accepted, `measurement` allowlisted (zero for `Development`), and no round of
    /// `roundManager()` open. The registry does not verify the evidence file: every hospital does, before it
    /// encrypts, against its own pinned measurements, and the auditor does again.
    function registerEnclaveKey(
        bytes32 keyHash,
        string calldata keyCid,
        EvidenceKind kind,
        bytes32 measurement,
        string calldata evidenceCid
    ) external;

    /// @notice A member hospital approves `measurement` (e.g. the enclave image it rebuilt reproducibly); it is
    /// allowlisted once more than half of the current member hospitals have approved it.
    function approveMeasurement(bytes32 measurement) external;

    /// @notice Take `measurement` off the allowlist and clear its approvals. Admin only (removal is the safe
    /// direction: hospitals then refuse to encrypt to a key with that measurement).
    function revokeMeasurement(bytes32 measurement) external;

    /// @notice Accept or refuse enclave keys vouched for by `kind`. Admin only; `Development` is refused until
    /// accepted here (and each hospital must opt in locally as well).
    function setEvidenceKindAccepted(EvidenceKind kind, bool accepted) external;

    /// @notice Record the RoundManager whose open rounds lock the enclave key. Admin only, once.
    function setRoundManager(address roundManager_) external;

    /// @notice Whether `measurement` is on the allowlist.
    function isMeasurementAllowed(bytes32 measurement) external view returns (bool);

    /// @notice How many current member hospitals approved `measurement`.
    function measurementApprovals(bytes32 measurement) external view returns (uint256);

    /// @notice Whether the consortium accepts enclave keys vouched for by `kind`.
    function isEvidenceKindAccepted(EvidenceKind kind) external view returns (bool);

    /// @notice The registered key's evidence kind, evidence file CID and registration time (the block's timestamp:
    /// the time its evidence is verified at, by the hospitals and the audit).
    function enclaveEvidence()
        external
        view
        returns (EvidenceKind kind, string memory evidenceCid, uint64 registeredAt);

    /// @notice The RoundManager whose open rounds lock the enclave key (zero: not yet recorded).
    function roundManager() external view returns (address);

    /// @notice The consortium admin.
    function admin() external view returns (address);

    /// @notice The role of `account` (`Role.None` for non-members).
    function roleOf(address account) external view returns (Role);

    /// @notice Whether `account` is a member hospital.
    function isHospital(address account) external view returns (bool);

    /// @notice Whether `account` is a registered auditor.
    function isAuditor(address account) external view returns (bool);

    /// @notice The registered aggregator, or the zero address.
    function aggregator() external view returns (address);

    /// @notice Number of member hospitals.
    function hospitalCount() external view returns (uint256);

    /// @notice The enclave key's SHA-256, CID and code measurement (all empty before registration).
    function enclaveKey() external view returns (bytes32 keyHash, string memory keyCid, bytes32 measurement);

    /// @notice Record the deployment's PredictionRegistry (the zero address clears it). Admin only; a non-zero
    /// address must hold contract code. Whether that contract is a PredictionRegistry bound to this
    /// consortium's RoundManager is for its readers to check (the auditor does).
    function setPredictionRegistry(address predictionRegistry_) external;

    /// @notice The deployment's PredictionRegistry, or the zero address when none was recorded.
    function predictionRegistry() external view returns (address);

    /// @notice Admit hospital `account` with the sample-count cap the consortium agreed for it (`maxSamples` > 0):
    /// its declared count per update, and so its FedAvg weight, cannot exceed what it showed at admission.
    /// Admin only. `admitMember(account, Role.Hospital, name)` admits a hospital without a cap (0).
    function admitHospital(address account, string calldata name, uint64 maxSamples) external;

    /// @notice Change hospital `account`'s agreed sample-count cap (`maxSamples` > 0), e.g. after the consortium
    /// checked its grown data set. Admin only.
    function setSampleCap(address account, uint64 maxSamples) external;

    /// @notice Hospital `account`'s agreed sample-count cap (0: none agreed, or not a hospital).
    function sampleCapOf(address account) external view returns (uint64);

    /// @notice The block in which `account` was admitted to its current role (0: not a member). A hospital is
    /// entitled to a round's model (and to report it unavailable) only if admitted before the round opened.
    function memberSince(address account) external view returns (uint256);
}
