"""One module per server schema revision, numbered in order."""
