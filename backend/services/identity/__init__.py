"""Who may do what: login, tokens, passwords, rate limits, staff accounts and the access policy."""
