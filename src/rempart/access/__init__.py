"""Access: API keys with their roles, and the append-only audit log of what they did."""
