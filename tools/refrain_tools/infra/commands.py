"""`refrain package`: build the deployable function archives Terraform uploads."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from refrain_tools.packaging import PackagingError, build_project


def _project_root() -> Path:
    """The checkout: the directory holding pyproject.toml and uv.lock, from cwd upwards."""
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "uv.lock").is_file() and (candidate / "functions").is_dir():
            return candidate
    raise click.ClickException("run inside the Refrain checkout (no uv.lock + functions/ found)")


@click.command("package")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory (default: dist/functions in the checkout).",
)
def package(out_dir: Path | None) -> None:
    """Build dist/functions/<source>.zip per function source and manifest.json (sha256)."""
    root = _project_root()
    target = out_dir or root / "dist" / "functions"
    try:
        packages = build_project(root, target)
    except PackagingError as exc:
        raise click.ClickException(str(exc)) from exc
    for p in packages:
        click.echo(f"{p.sha256}  {target / p.file}  ({p.size} bytes, {p.files} files)")
    click.echo(f"manifest: {target / 'manifest.json'}", file=sys.stderr)
