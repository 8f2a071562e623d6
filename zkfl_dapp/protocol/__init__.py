"""The protocol's parties: hospitals (:mod:`.hospital`), the aggregator enclave (:mod:`.enclave`), the
consortium wiring (:mod:`.consortium`), the accounts that act in it (:mod:`.roles`), the round driver
(:mod:`.rounds`), round reports (:mod:`.reports`) and what the consortium publishes about its circuits
(:mod:`.publication`)."""
