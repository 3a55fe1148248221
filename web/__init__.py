"""The web app: units' secret upload pages (/u/…) and the office dashboard (/office/…)."""
