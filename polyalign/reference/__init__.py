"""Human references per bucket and the support distance d(y, b) (METHOD.md §2-3).

`features` (the language-aware feature registry), `reference` (HumanReference: bands, scales,
lengths), `support` (d(y, b) as a pure array function, and the scorer mixing its terms), `terms`,
`neighbours` and `style` (support terms learned from the reference's own responses), `critic` (the
optional learned human-vs-model critic), `embedders`, `report` (the held-out human floor), `scoring`
(file I/O behind `polyalign reference score|critic`), `stage` (the reference and critic artefacts:
build, reuse, load). Importing this package loads no model.
"""
