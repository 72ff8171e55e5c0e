"""Photo storage and checks: pure code, no Flask and no models."""
