"""Demo data for the embedded default: district, staff, subjects and their activity via the services."""
