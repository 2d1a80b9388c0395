"""Phone numbers: what a client types, normalised to E.164 and Meta's ``wa_id``, one at a time
or in batches."""
