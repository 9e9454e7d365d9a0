"""Business settings per workspace: seller identity, tax, delivery, limits, escalation, knowledge bases."""
