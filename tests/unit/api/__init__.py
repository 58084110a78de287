"""Tests of mobilabel.api."""
