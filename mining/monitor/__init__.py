"""Stage 07: drift of inputs and predictions against the training baseline; retrain decision."""
