"""Binary-comparison annotation: batches, comparisons, assignment, judgements, the workspace."""
