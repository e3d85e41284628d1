"""Engine: the worker, the dispatcher, triggers and limits."""
