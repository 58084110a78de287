"""Tests of mobilabel.scheduler."""
