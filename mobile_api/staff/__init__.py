"""The officers' and bureau's app (矫务通): subjects, decisions, warnings, suggestions, inbox, dashboard."""
