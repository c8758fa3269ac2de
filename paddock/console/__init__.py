"""The data manager's console: server-rendered pages over batches, jobs, runs and models."""
