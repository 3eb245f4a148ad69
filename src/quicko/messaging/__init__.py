"""Message model, delivery status and the outbound queue (sans-I/O)."""
