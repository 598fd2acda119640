"""Generation: one model's responses to a prepared split under one decoding config (METHOD.md §6).

Modules (importing this package loads neither torch nor a model):

- `config`    the `generate:` section of a run config (decoding settings, profile mode, leak guard)
- `backends`  transformers and vLLM: render a chat prompt, count its tokens, sample responses
- `plan`      each record's prompt (profile, history fitted to the budget) and the leak guard
- `stage`     prepared split + reference + model folder → generations artefact
"""
