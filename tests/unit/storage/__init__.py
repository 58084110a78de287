"""Tests of mobilabel.storage."""
