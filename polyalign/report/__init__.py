"""The comparison report: renders evaluation result artefacts as Markdown and HTML."""
