"""Tests of mobilabel.models."""
