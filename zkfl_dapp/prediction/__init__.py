"""Verifiable risk predictions: a patient record in, a proof bound to a finalized global model out.

1. :class:`~.patient.PatientRecord` parses and standardizes a patient file;
2. :func:`~.proofs.prove_prediction` proves the logit with the commit-and-prove inference circuit (features
   private, the model the round's committed aggregate), :func:`~.proofs.verify_prediction_offchain` checks
   it; the risk is :func:`~.proofs.risk_of_logit`, the public sigmoid of the proven logit;
3. :func:`~.proofs.record_prediction` records it in ``PredictionRegistry`` (:mod:`.registry`), which
   accepts it only for the model the chain finalized in that round;
4. :func:`~.flow.predict_for_round` runs the whole flow (``ape run predict``).
"""
