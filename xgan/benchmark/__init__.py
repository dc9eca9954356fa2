"""The benchmark: XGAN, its ablations and the DTN baselines trained and scored on the same splits."""
