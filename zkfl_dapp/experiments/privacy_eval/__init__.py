"""The measured leakage report (``make privacy-eval``, docs/privacy-eval.md): the review's attacks run against
the functions the parties run (training, clipping and noise, quantization, the exact FedAvg aggregate and its
weights, the bound policy's statistic, the inference circuit's reference logit, the shard and count rules)."""
