"""The messaging limit: tiers and the rolling 24-hour window of unique recipients."""
