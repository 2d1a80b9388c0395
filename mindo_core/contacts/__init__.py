"""Contacts: the people an organisation hears from or writes to, and their 24-hour window."""
