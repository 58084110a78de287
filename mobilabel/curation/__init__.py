"""Curation over stored embeddings: nearest neighbours, near-duplicate groups, likely label mistakes.

Pure numpy over arrays (N x D float32 embeddings, integer labels, probabilities): no torch, no database,
so the API and the CLI use it without loading a model.
"""
