"""Tests of mobilabel.cli."""
