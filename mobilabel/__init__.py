"""mobilabel: batch image labelling with MobileNet, results in SQL."""

from importlib.metadata import PackageNotFoundError, version

try:
    # Set at build time from git by setuptools-scm (pyproject.toml), so it changes with every commit.
    __version__ = version("mobilabel")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
