"""mobilabel: batch image labelling with MobileNet, results in SQL."""

__version__ = "0.1.0"
