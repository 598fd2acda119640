"""The comparison report: renders evaluate artefacts and their comparison (`evaluate.compare`) only.

`tables` builds every section once as a table model; `markdown` and `html` lay it out; `svg` draws the
plots; `training` reads the runs' training artefacts for their loss curves; `stage` writes report.html,
report.md and comparison.json as an artefact with a manifest.
"""
