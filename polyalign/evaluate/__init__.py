"""Evaluation of generations against the human test responses (METHOD.md §6).

`registry` names every metric with its group, direction and aggregation; `utility`, `distribution` and
`naturalness` compute them; `stats` gives bootstrap intervals, macro-averages and paired differences;
`generations` reads what is evaluated, `engine` runs every metric over it, `results` writes and reads the
results artefact that `polyalign.report` renders;
`judge` is the optional blind LLM judge. Importing this package loads no model and no metric
backend (MAUVE, faiss, scikit-learn are imported where they are used).
"""
