"""Administration: org units, users, the audit log, rule sets, credit-base imports, keywords, triggers."""
