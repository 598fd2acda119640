"""Generation: one model's responses to a prepared split under one decoding config (METHOD.md §6).

Importing this package loads neither torch nor a model.
"""
