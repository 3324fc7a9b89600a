"""Requests in: single leads checked field by field; batches (JSON or Arrow) read by column into
the scorer's arrays."""
