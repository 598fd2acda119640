"""Evaluation of generations against the human test responses (METHOD.md §6).

`registry` names every metric with its group, direction, minimum rows, n/a reason, cell view and
glossary line (`glossary` writes the glossary table for the report and the README);
`utility`, `distribution` and `naturalness` compute them; `stats` gives bootstrap intervals,
macro-averages and paired differences; `generations` reads what is evaluated; `engine` runs every metric
per bucket with the one per-bucket bootstrap (the judge uses it too); `results` writes and reads the
results artefact that `polyalign.report` renders; `judge` is the optional blind LLM judge; `stage` holds
the `evaluate` and `judge` stages. Importing this package loads no model and no metric backend (MAUVE,
faiss, scikit-learn are imported where they are used).
"""
