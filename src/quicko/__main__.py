"""``python -m quicko``: the same as the ``quicko`` command."""

from __future__ import annotations

from quicko.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
