"""Notification channels, one module each (email, Zalo, other Apprise URLs)."""
