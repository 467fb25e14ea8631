"""Business rules and transaction boundaries of core."""
