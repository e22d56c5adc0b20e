"""The held-out photos the benchmarks measure on: pretrained/heldout.txt's names, from ../shared/data/photos
(never trained on); the repository's example photos where the shared data is absent."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def held_out_photos(count: int | None = None) -> list[Path]:
    folder = ROOT.parent / "shared" / "data" / "photos"
    names = [line.strip() for line in (ROOT / "pretrained" / "heldout.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    found = [folder / name for name in names if (folder / name).is_file()]
    return (found or sorted((ROOT / "examples").glob("*.jpg")))[:count]
