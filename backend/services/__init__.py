"""Domain services: each owns its transaction, takes plain data and ids, and raises DomainError."""
