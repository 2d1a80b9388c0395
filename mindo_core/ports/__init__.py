"""The ports the core needs from the outside world, one module per aggregate. Each has a real
adapter and an in-memory one; each use case takes only the ports it reads and writes."""
