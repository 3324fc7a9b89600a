"""Training from a flat, one-row-per-lead CRM export: read values, type columns, refuse leaky ones,
split, run."""
