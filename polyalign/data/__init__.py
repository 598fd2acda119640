"""Data: from input files to prepared, bucketed, split records (METHOD.md §1).

`records` (schema), `sources` (file and dataset loaders), `normalize`, `language`, `scripts` (Unicode
ranges), `buckets` (+ `BucketKey`), `splits`, `accounting`, `prepare` (the stage), `bucket_report`,
`prompts` (profile text, history fitting), `fixture/` (the synthetic corpus) and `corpora/` (the paper's
corpus recipes). Imports point one way: `corpora` builds on `sources`, and `prepare` sends each source
kind (file, dataset, corpus, fixture) to its reader. Nothing here imports a later stage. Importing this
package loads no data.
"""
