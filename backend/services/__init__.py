"""Domain services: each owns its transaction, takes plain data and ids, and raises DomainError.

One package per domain, each depending only on those below it (checked by the import contracts in
pyproject.toml): demo → field, suggestions → activities, oversight → scoring → evidence → subjects →
identity → core.
"""
