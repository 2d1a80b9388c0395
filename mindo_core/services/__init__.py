"""Use cases: each takes plain values and ports, and returns plain values."""
