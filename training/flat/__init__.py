"""Training from a flat, one-row-per-lead CRM export: values, column typing, leaky columns
refused, the split, the run and what it prints."""
