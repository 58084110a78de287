"""Tests of mobilabel.exchange."""
