"""Answers out: a scoring pass as JSON rows or as an Arrow IPC stream."""
