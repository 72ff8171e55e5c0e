"""Photo evidence: uploads, their checks, links and retention, attachment, review, faces."""
