"""Tests for dondoc.rules."""
