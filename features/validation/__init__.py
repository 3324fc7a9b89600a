"""The steps of ``features.validate.validate_history``, one module per job; that module runs them.

reasons  the set-aside reason texts, the per-row reason bookkeeping, and the report of it
ids      lead ids: read, made one kind across the tables, and matched to their lead
coerce   every other column to the contract's dtype, setting aside rows it cannot use
stages   stage-order checks across a lead's stage changes (repeats, impossible orders)
"""
