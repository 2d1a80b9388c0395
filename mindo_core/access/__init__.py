"""Who may call: API keys (format, hashing, scopes) and the per-key request limit."""
