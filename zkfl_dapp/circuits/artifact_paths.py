"""Where one circuit's generated artifacts live, and the digest of the pinned inputs that names the folder.

Every other step (build, verifier generation, proving, publication) reads paths from :class:`ArtifactPaths`
instead of spelling file names itself, so the layout of an artifact folder is written down once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

from zkfl_dapp.circuits.kzg import KzgBasis
from zkfl_dapp.config import REPO_ROOT

#: The ezkl release this project pins (requirements.txt); artifacts record it.
EZKL_VERSION = "23.0.5"


#: The HOME ezkl runs with: its .svm folder holds the checkout's solc shim (tools/install_solc_shim.py).
TOOLCHAIN_HOME = REPO_ROOT / ".toolchain" / "home"
#: ezkl's reusable verifier contract: the same source for every circuit (deployed once).
REUSABLE_VERIFIER_NAME = "Halo2VerifierReusable"


def spec_digest(spec: Any, revision: int) -> str:
    """The cache key of a circuit: a digest of its spec (a dataclass), construction revision and ezkl version."""
    pinned = {"spec": asdict(spec), "revision": revision, "ezkl": EZKL_VERSION}
    return hashlib.sha256(json.dumps(pinned, sort_keys=True).encode()).hexdigest()[:16]


class ArtifactPaths:
    """Paths of one circuit's generated artifacts, shared by every circuit kind (e.g. KzgChunkNormArtifacts);
    each subclass names its verifier contract."""

    directory: Path
    logrows: int
    srs_kind: str

    #: Name of the generated verifier contract (ezkl's ``Halo2Verifier``, renamed).
    contract_name: ClassVar[str] = "Halo2Verifier"
    #: Generate ezkl's reusable verifier instead: ``verifier_sol`` is then a small wrapper holding the
    #: circuit's verifying-key artifact (VKA) that calls the shared ``reusable_verifier_sol`` (see
    #: :func:`_generate_reusable_verifier`). For circuits whose plain verifier is over EIP-170's size limit.
    reusable: ClassVar[bool] = False

    @property
    def onnx(self) -> Path:
        return self.directory / "network.onnx"

    @property
    def settings(self) -> Path:
        return self.directory / "settings.json"

    @property
    def compiled(self) -> Path:
        return self.directory / "network.ezkl"

    @property
    def srs(self) -> Path:
        return self.directory / f"kzg{self.logrows}.srs"

    @property
    def pk(self) -> Path:
        return self.directory / "pk.key"

    @property
    def vk(self) -> Path:
        return self.directory / "vk.key"

    @property
    def verifier_sol(self) -> Path:
        return self.directory / f"{self.contract_name}.sol"

    @property
    def reusable_verifier_sol(self) -> Path:
        """ezkl's circuit-independent reusable verifier (only when ``reusable``)."""
        return self.directory / f"{REUSABLE_VERIFIER_NAME}.sol"

    @property
    def vka(self) -> Path:
        """The verifying-key artifact, ezkl's bincode file (only when ``reusable``)."""
        return self.directory / "vka.bin"

    @property
    def verifier_sources(self) -> tuple[Path, ...]:
        """Every generated Solidity file that must be installed and deployed."""
        return (self.verifier_sol, self.reusable_verifier_sol) if self.reusable else (self.verifier_sol,)

    @property
    def manifest(self) -> Path:
        return self.directory / "manifest.json"

    def basis(self) -> KzgBasis:
        """The circuit's KZG basis (its SRS, vk and settings): the commitments its proofs' committed points are.
        Circuits that must agree on commitments share it (see circuits.suite)."""
        return KzgBasis.load(self.srs, self.vk, self.settings)
