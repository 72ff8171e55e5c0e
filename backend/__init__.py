"""zhijiao (智矫): domain core — config, models and services; no HTTP here."""
