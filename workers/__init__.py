"""RQ jobs and schedules: thin wrappers that load by id and call the same services as the API."""
