"""Templates: Meta's definition as stored, the typed model, Meta's parameter rules, and the
resolution of a request's variables into Meta's send payload."""
