from polyalign.cli import app

app(prog_name="polyalign")
