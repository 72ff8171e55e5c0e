"""HTTP plumbing every blueprint uses: the blueprint class, security, errors, pagination, idempotency, CSV, ops."""
