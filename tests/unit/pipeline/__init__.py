"""Tests of mobilabel.pipeline."""
