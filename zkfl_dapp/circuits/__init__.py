"""The ezkl (Halo2/KZG) circuits: one generic build path (:mod:`.artifacts`; the artifact folder's layout in
:mod:`.artifact_paths`, the generated verifiers in :mod:`.verifier_codegen`, proving and verifying in
:mod:`.proving`), one module per circuit (:mod:`.aggregation`, :mod:`.norm`, :mod:`.median`,
:mod:`.inference`) and every circuit's public instance layout in one place (:mod:`.layouts`)."""
