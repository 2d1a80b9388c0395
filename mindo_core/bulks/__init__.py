"""A bulk send as data: its statuses, its recipients' state machine and counters, and the
submitted recipient list validated and deduplicated."""
