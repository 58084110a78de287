"""Task names: what the scheduler and enqueuer send, without importing the tasks themselves."""

LABEL_CHUNK = "mobilabel.label_chunk"
SWEEP = "mobilabel.sweep"
RETRAIN = "mobilabel.retrain"
TRAIN = "mobilabel.train"
