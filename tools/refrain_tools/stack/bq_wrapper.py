"""Start bqemulator without its DuckDB spatial/avro extension downloads.

bqemulator installs DuckDB's `spatial` (and tries `avro`) from the extension
repository at start. This machine, like most CI runners, has no route to it,
and Refrain stores no GEOGRAPHY columns, so the load is skipped. Everything
else (REST, Storage Write gRPC, MERGE, streaming inserts) is unchanged.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("BQEMU_ENABLE_FORMAT_EXTENSIONS", "false")
    from bqemulator.storage import engine

    def _skip_extension(self: object) -> None:
        return None

    engine.DuckDBEngine._load_spatial = _skip_extension  # type: ignore[method-assign]
    engine.DuckDBEngine._load_format_extensions = _skip_extension  # type: ignore[method-assign]

    from bqemulator.cli import main as bq_main

    bq_main(args=["start", *(sys.argv[1:] if argv is None else argv)], standalone_mode=True)


if __name__ == "__main__":
    main()
