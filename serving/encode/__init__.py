"""Answers out: a scoring pass as JSON rows, as JSON bytes written by column, or as an Arrow
IPC stream."""
