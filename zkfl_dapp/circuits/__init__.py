"""The ezkl (Halo2/KZG) circuits: one generic build/prove/verify path (:mod:`.artifacts`), one module per
circuit (:mod:`.aggregation`, :mod:`.norm`, :mod:`.median`, :mod:`.inference`) and every circuit's public
instance layout in one place (:mod:`.layouts`)."""
