"""Rewrite every generated example block of docs/protocol.md from the code.

Usage: .venv/bin/python scripts/regen-doc-examples.py

The blocks are the fenced blocks with a ``title="…"`` info string; their text comes from
``generate_blocks()`` in tests/unit/protocol/test_protocol_doc_examples.py, which the test suite
checks against the document. A block the generator does not know is left alone and reported.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "unit" / "protocol"))

from test_protocol_doc_examples import generate_blocks  # noqa: E402

BLOCK = re.compile(r'```(\w+) title="([^"]+)"\n(.*?)```', re.S)


def main() -> int:
    doc = ROOT / "docs" / "protocol.md"
    blocks = generate_blocks()
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        lang, title = match.group(1), match.group(2)
        if title not in blocks:
            unknown.append(title)
            return match.group(0)
        return f'```{lang} title="{title}"\n{blocks[title]}```'

    doc.write_text(BLOCK.sub(replace, doc.read_text()))
    for title in unknown:
        print(f"not generated (left as is): {title}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
