"""Business rules as pure functions: document numbers, deadlines, working days, status."""
