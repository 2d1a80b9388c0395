"""Meta's webhooks: their payloads and signature, and the rules a status follows when it is
applied to a message."""
