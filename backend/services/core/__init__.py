"""The base of every domain: actors, audit chain, outbox, idempotency, job runs, state machines, warnings, push."""
