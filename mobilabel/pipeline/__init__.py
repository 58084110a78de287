"""The labelling flow: paths -> decode -> batches -> model -> results. Knows models and storage.

Modules are imported one by one (``pipeline.paths`` needs no torch), so this package imports nothing itself.
"""
