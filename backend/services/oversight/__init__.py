"""What staff watch over: warning handling, the inbox of work awaiting them, the dashboard (驾驶舱)."""
