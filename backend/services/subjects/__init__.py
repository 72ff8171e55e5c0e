"""The supervised person's record: enrolment, profile changes, org units, ID numbers, release hooks."""
