"""The bulk form of ``refrain prices schedule``: a CSV or TOML file of changes.

CSV: a header ``plan,market,amount,effective`` then one change per line. TOML: one
``[[change]]`` table per change with the same keys. Amounts are major units written as
text (``"12.99"``) or, in TOML, an integer; a TOML float is refused, because 12.99 as a
binary float is not 12.99. ``effective`` is a date (midnight UTC) or an ISO-8601 time.
"""

from __future__ import annotations

import csv
import io
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from refrain.pricing.schedule import PriceChangeRefused, PriceChangeRow

__all__ = ["parse_effective", "read_rows"]

COLUMNS = ("plan", "market", "amount", "effective")


def parse_effective(value: object) -> datetime:
    """A date is its midnight UTC; a time without an offset is UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"effective {text!r} is not an ISO-8601 date or time") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def read_rows(path: Path) -> list[PriceChangeRow]:
    """Every row of the file, or :class:`PriceChangeRefused` listing every unreadable one."""
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _rows(_csv(text))
    if suffix == ".toml":
        return _rows(_toml(text))
    raise PriceChangeRefused([f"{path.name}: use a .csv or .toml file"])


def _csv(text: str) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or set(COLUMNS) - {f.strip() for f in reader.fieldnames}:
        raise PriceChangeRefused([f"the CSV header must name the columns {','.join(COLUMNS)}"])
    return [
        (f"line {reader.line_num}", {k.strip(): v for k, v in row.items() if k is not None})
        for row in reader
    ]


def _toml(text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriceChangeRefused([f"not TOML: {exc}"]) from exc
    tables = data.get("change")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise PriceChangeRefused(["the TOML file needs [[change]] tables"])
    return [(f"[[change]] {n}", table) for n, table in enumerate(tables, start=1)]


def _rows(items: list[tuple[str, dict[str, Any]]]) -> list[PriceChangeRow]:
    rows, problems = [], []
    for line, item in items:
        missing = [c for c in COLUMNS if item.get(c) in (None, "")]
        amount = item.get("amount")
        if missing:
            problems.append(f"{line}: missing {', '.join(missing)}")
        elif isinstance(amount, float):
            problems.append(f'{line}: write the amount as text, e.g. "{amount}"')
        else:
            try:
                effective = parse_effective(item["effective"])
            except ValueError as exc:
                problems.append(f"{line}: {exc}")
                continue
            rows.append(
                PriceChangeRow(
                    plan=str(item["plan"]).strip(),
                    market=str(item["market"]).strip(),
                    amount=str(amount),
                    effective_at=effective,
                    source=line,
                )
            )
    if problems:
        raise PriceChangeRefused(problems)
    return rows
