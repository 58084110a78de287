"""Tests of mobilabel.training."""
