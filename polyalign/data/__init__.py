"""Data: from input files to prepared, bucketed, split records (METHOD.md §1).

`records` (schema), `sources` (file and dataset loaders), `normalize`, `language`, `buckets`, `splits`,
`accounting`, `prepare` (the stage), `bucket_report`, `prompts` (profile text, history fitting),
`fixture/` (the synthetic corpus) and `corpora/` (the paper's corpus recipes). Importing this package
loads no data.
"""
