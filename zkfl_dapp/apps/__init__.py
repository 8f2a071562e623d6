"""Entry points: the click options of the ``ape run`` scripts (:mod:`.cli`), chain sessions and circuit
builds (:mod:`.session`), and the loopback IPFS gateway that serves the web UI (:mod:`.gateway`)."""
