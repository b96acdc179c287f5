"""Write Terraform's generated inputs (topology.json, BigQuery schemas) from refrain.topology,
and docs/CONFIGURATION.md from the settings models (refrain_tools.infra.configcheck).

Usage: .venv/bin/python scripts/gen_tf_schemas.py [--check]
--check exits 1 and lists the stale files instead of writing them (CI).
"""

from __future__ import annotations

import sys
from pathlib import Path

from refrain_tools.infra import configcheck, tfgen

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    doc = ROOT / configcheck.DOC
    if "--check" in argv:
        stale = tfgen.stale_files(ROOT)
        if not doc.is_file() or doc.read_text(encoding="utf-8") != configcheck.render_markdown():
            stale.append(configcheck.DOC)
        for path in stale:
            print(f"out of date: {path}", file=sys.stderr)
        if stale:
            print(f"run: {tfgen.REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    for path in tfgen.write(ROOT):
        print(f"wrote {path}")
    if not doc.is_file() or doc.read_text(encoding="utf-8") != configcheck.render_markdown():
        doc.write_text(configcheck.render_markdown(), encoding="utf-8")
        print(f"wrote {configcheck.DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
