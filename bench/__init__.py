"""make bench: figures measured against baselines run in the same process or the same run."""
