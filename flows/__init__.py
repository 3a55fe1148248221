"""Prefect flows: thin stories over the services in dondoc/ (tracking, reminders, consolidation)."""
