"""How fast a phone number may send: the per-number gate, pacing and estimates, fair share
between bulks, the scheduler that combines them, and the retry policy."""
