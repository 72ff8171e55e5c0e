"""What subjects do: check-ins and periods, geofence, requests and decisions, education, service, sync."""
