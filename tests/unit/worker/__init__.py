"""Tests of mobilabel.worker."""
