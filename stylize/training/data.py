"""Training data: every image file under a folder tree, turned into training items by a task's transform.

Augmentation is seeded per (seed, epoch, index), so a sample is the same whatever the worker count and
whether or not the run was interrupted and resumed; the sampler's permutation is seeded per epoch and can
start mid-epoch, which is what makes `--resume` exact.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from stylize.errors import DataError, ImageError, StylizeError
from stylize.files import walk_files
from stylize.images import IMAGE_EXTENSIONS, header_size, needs_heic_extra, open_image, raw_twins, to_rgb

# A task's transform: a decoded RGB photo -> one training item (a tensor, or a tuple of tensors). One that only
# ever shrinks photos may say how large it needs them, so that a large JPEG is decoded smaller (open_image's
# `longest`: libjpeg's scaled DCT; a 12 MP photo's item then takes a quarter of the time): a method
# decode_longest(width, height) -> the longest side that loses nothing it keeps, for a photo of that size.
# One whose items depend on which photo it is (colorize's --people) has wants_path true and is also given the
# photo's path.
Transform = Callable[[Image.Image], Any]


def find_images(root: Path) -> tuple[dict[Path, tuple[int, int]], list[Path]]:
    """(readable image files under `root`, sorted, each with its stored (width, height); the image-named files
    that could not be opened).

    Only headers are read here, so a folder of thousands of photos scans in seconds. Each real folder is
    walked once, whatever links point to it.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} is not a folder of images")
    candidates = [path for path in walk_files(root) if path.suffix.lower() in IMAGE_EXTENSIONS]
    twins = raw_twins(candidates)  # a RAW+JPEG pair is one photo: its JPEG is taken, as `stylize batch` does
    candidates = [path for path in candidates if path not in twins]
    sizes = {path: header_size(path) for path in candidates}
    readable = {path: size for path, size in sizes.items() if size is not None}
    unreadable = [path for path, size in sizes.items() if size is None]
    if not readable:
        heif = heif_without_extra(unreadable)
        need = f'; {heif} are HEIF photos, which need pip install "stylize[heic]"' if heif else ""
        raise DataError(f"no readable images under {root} ({len(unreadable)} unreadable{need})")
    return readable, unreadable


def heif_without_extra(unreadable: list[Path]) -> int:
    """How many of the unreadable files are HEIF photos (an iPhone's), which the heic extra would read."""
    return sum(needs_heic_extra(path) for path in unreadable)


def fingerprint(root: Path, paths: list[Path]) -> str:
    """A digest of the training files' paths below `root` and their sizes: what --resume checks."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(os.fsencode(path.relative_to(root).as_posix()))  # any name, UTF-8 or not
        digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()


class ImageFiles(Dataset):
    """Training items made by `transform` from the photos at `paths`, seeded per (seed, epoch, index)."""

    def __init__(self, paths: list[Path], transform: Transform, seed: int = 0,
                 sizes: dict[Path, tuple[int, int]] | None = None) -> None:
        self.paths = list(paths)
        self.transform = transform
        self.seed = seed
        self.sizes = sizes or {}  # stored (width, height), from find_images: what decode_longest is asked about
        self.decode_longest: Callable[[int, int], int] | None = getattr(transform, "decode_longest", None)
        self.wants_path: bool = getattr(transform, "wants_path", False)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        """The item for (epoch, index): the same photo gets other augmentation in each epoch."""
        epoch, index = key
        # A file that fails to decode (truncated after its header) is replaced by the next one.
        for attempt in range(len(self.paths)):
            path = self.paths[(index + attempt) % len(self.paths)]
            size = self.sizes.get(path)
            longest = self.decode_longest(*size) if self.decode_longest and size else None
            try:
                image = to_rgb(open_image(path, longest=longest))
            except ImageError:
                continue
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(hash((self.seed, epoch, index)) & 0x7FFF_FFFF)
                return self.transform(image, path) if self.wants_path else self.transform(image)
        raise DataError("none of the training images could be decoded")


def batches(loader: Iterable[Any]) -> Iterator[Any]:
    """The loader's batches, a worker's error raised with its own one-line message.

    DataLoader re-raises a worker's exception in the training process as the same type, but with the
    worker's whole traceback for its message ("Caught DataError in DataLoader worker process 0. Original
    Traceback ..."), which would reach the user as a traceback; the traceback's last line holds the message.
    """
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except StylizeError as error:
            text = str(error)
            if "Original Traceback" not in text:
                raise
            last = text.rstrip().splitlines()[-1]
            raise type(error)(last.partition(f"{type(error).__name__}: ")[2] or last) from None
        yield batch


class ResumableSampler(Sampler[tuple[int, int]]):
    """(epoch, index) keys for ImageFiles: a seeded permutation per epoch, sharded across ranks, from any
    (epoch, position) on through the later epochs without end, so one DataLoader serves a whole run.

    Rank r of w takes every w-th index of the epoch's permutation (padded by wrapping so every rank has the
    same count), like DistributedSampler. Each epoch gives whole batches only (per_epoch): the remainder is
    left out, as DataLoader's drop_last does, so batches never straddle two epochs.
    """

    def __init__(self, size: int, seed: int = 0, rank: int = 0, world: int = 1, batch_size: int = 1) -> None:
        self.size, self.seed, self.rank, self.world, self.batch_size = size, seed, rank, world, batch_size
        self.epoch = 0
        self.start = 0  # position within this rank's share of the epoch

    def per_rank(self) -> int:
        return -(-self.size // self.world)

    def per_epoch(self) -> int:
        """Items each rank takes from an epoch: its share, less what would not fill a batch."""
        return self.per_rank() // self.batch_size * self.batch_size

    def order(self, epoch: int) -> list[int]:
        """This rank's indices for `epoch`, in the order they are served."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        order += order[: self.per_rank() * self.world - self.size]
        return order[self.rank :: self.world][: self.per_epoch()]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, start = self.epoch, self.start
        while True:
            for index in self.order(epoch)[start:]:
                yield epoch, index
            epoch, start = epoch + 1, 0
