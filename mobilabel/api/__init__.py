"""The HTTP API of `mobilabel serve`: FastAPI routers over the same storage and pipeline as the CLI.

Importing it loads no torch; the predict router loads the model on its first request.
"""
