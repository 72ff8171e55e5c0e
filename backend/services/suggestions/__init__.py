"""Precision-correction suggestions (精准矫正建议): triggers, evaluators, the nightly engine, actions."""
