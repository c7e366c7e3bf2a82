"""Training and inference: the training loop (train) and predictions over a dataset split (infer)."""
