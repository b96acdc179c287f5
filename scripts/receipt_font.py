"""Cut DejaVu Sans to the receipt code points and ship it with the package.

Usage: .venv/bin/python scripts/receipt_font.py [--source TTF] [--check]

Writes shared/refrain/invoicing/fonts/ReceiptSans.ttf (see refrain.invoicing.pdf for
why the font ships cut). The source is Debian's fonts-dejavu-core file unless --source
names another copy of DejaVu Sans. --check exits 1 if cutting the source now gives
other bytes than the shipped file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from refrain.invoicing.pdf import SHIPPED_FONT, cut_font

DEBIAN_DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEBIAN_DEJAVU)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"no DejaVu Sans at {args.source} (apt-get install fonts-dejavu-core)")
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        cut = cut_font(args.source, Path(scratch), SHIPPED_FONT.name).read_bytes()
    if args.check:
        same = SHIPPED_FONT.is_file() and SHIPPED_FONT.read_bytes() == cut
        print("up to date" if same else f"out of date: {SHIPPED_FONT}")
        return 0 if same else 1
    SHIPPED_FONT.parent.mkdir(parents=True, exist_ok=True)
    SHIPPED_FONT.write_bytes(cut)
    print(f"wrote {SHIPPED_FONT} ({len(cut):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
