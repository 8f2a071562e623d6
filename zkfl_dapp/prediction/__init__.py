"""Verifiable risk predictions: a patient record in, a proof bound to a finalized global model out.

1. :class:`~.patient.PatientRecord` parses and standardizes a patient file;
2. :func:`~.proofs.prove_prediction` proves the risk with the inference circuit (features private, the
   model equal to the finalized round's), :func:`~.proofs.verify_prediction_offchain` checks it;
3. :func:`~.proofs.record_prediction` records it in ``PredictionRegistry`` (:mod:`.registry`), which
   accepts it only for the model the chain finalized in that round;
4. :func:`~.flow.predict_for_round` runs the whole flow (``ape run predict``).
"""
