"""Business rules and transaction boundaries of the registry (uploads, manifests, policy)."""
