"""Training of the trace segmenter: synthetic pages (synth, augment), cached shards (dataset)
and the training loop (train). Research code; the runtime needs none of it."""
