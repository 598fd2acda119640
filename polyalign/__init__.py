"""PolyAlign: align language models to the human response distribution of each interaction context.

Importing the package loads no model and touches no disk; the stages live in their own modules
(`polyalign.data.prepare`, ...) and the CLI is `polyalign.cli`.
"""

__version__ = "0.1.0"
