"""Grid workers' field reports: creation, keyword classification and the officer's review."""
