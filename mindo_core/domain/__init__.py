"""The ground every other package stands on: tenants and their ids, messages, Meta's error
codes, the error tree with its stable codes, and the clock port. It imports nothing of Mindo's."""
