"""``python -m chaoyun``: the same as the ``chaoyun`` command."""

from chaoyun.cli import app

if __name__ == "__main__":  # not when a spawned worker process re-imports this module
    app(prog_name="chaoyun")
