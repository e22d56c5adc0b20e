"""Training data: every image file under a folder tree, as square crops with torchvision transforms.

Augmentation is seeded per (seed, epoch, index), so a sample is the same whatever the worker count and
whether or not the run was interrupted and resumed; the sampler's permutation is seeded per epoch and can
start mid-epoch, which is what makes `--resume` exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import Dataset, Sampler

from stylize.errors import ImageError, StylizeError
from stylize.files import walk_files
from stylize.images import IMAGE_EXTENSIONS, has_readable_header, open_image, pil_to_tensor, to_rgb


class DataError(StylizeError):
    """The training data cannot be used."""


def find_images(root: Path) -> tuple[list[Path], int]:
    """(readable image files under `root`, sorted; count of image-named files that could not be opened).

    Only headers are read here, so a folder of thousands of photos scans in seconds.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} is not a folder of images")
    candidates = [path for path in walk_files(root) if path.suffix.lower() in IMAGE_EXTENSIONS]
    readable = [path for path in candidates if has_readable_header(path)]
    unreadable = len(candidates) - len(readable)
    if not readable:
        raise DataError(f"no readable images under {root} ({unreadable} unreadable)")
    return readable, unreadable


class ImageFiles(Dataset):
    """Square crops of `image_size` px: random resized crop (25-100 % of the area) and horizontal flip."""

    def __init__(self, paths: list[Path], image_size: int, seed: int = 0) -> None:
        from torchvision.transforms import v2

        self.paths = list(paths)
        self.seed = seed
        self.epoch = 0
        # Scale from 25 %: smaller crops would magnify photos until the style's strokes look oversized.
        self.transform = v2.Compose([
            v2.RandomResizedCrop(image_size, scale=(0.25, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
        ])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        # A file that fails to decode (truncated after its header) is replaced by the next one.
        for attempt in range(len(self.paths)):
            path = self.paths[(index + attempt) % len(self.paths)]
            try:
                image = to_rgb(open_image(path))
            except ImageError:
                continue
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(hash((self.seed, self.epoch, index)) & 0x7FFF_FFFF)
                return pil_to_tensor(self.transform(image))[0]
        raise DataError("none of the training images could be decoded")


class ResumableSampler(Sampler[int]):
    """A seeded permutation per epoch, sharded across ranks, that can start at any position.

    Rank r of w takes every w-th index of the epoch's permutation (padded by wrapping so every rank has the
    same count), like DistributedSampler.
    """

    def __init__(self, size: int, seed: int = 0, rank: int = 0, world: int = 1) -> None:
        self.size, self.seed, self.rank, self.world = size, seed, rank, world
        self.epoch = 0
        self.start = 0  # position within this rank's share of the epoch

    def per_rank(self) -> int:
        return -(-self.size // self.world)

    def __len__(self) -> int:
        return self.per_rank() - self.start

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        order += order[: self.per_rank() * self.world - self.size]
        return iter(order[self.rank :: self.world][self.start :])
