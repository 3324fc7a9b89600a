"""The weights comparison as a report: figures, tables, text, the HTML page, and publishing them."""
