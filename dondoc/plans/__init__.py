"""Plan files and unit lists: reading, validating with file:line locations, loading."""
