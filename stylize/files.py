"""Files: atomic output, safe folder walks, and the guard that keeps a job from writing onto what it reads.

Atomic output: a reader sees the old file or the complete new one, never a partial write. The temporary
file sits beside the target as a hidden `.NAME.stylize-PID-TOKEN-TAG.part`, where TAG is a digest of the
rest of the name: a later run removes one left by a killed writer (SIGKILL, a power cut) only when its name
has this shape and its tag checks out, so a user's own `.notes.part` is never taken for ours.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from stylize.errors import BusyError, OutputError, WriteError

PART_SUFFIX = ".part"
# .NAME.stylize-PID-TOKEN-TAG.part: the whole name must match, and TAG must be part_tag(NAME, PID, TOKEN).
_PART_NAME = re.compile(r"\.(?P<name>.+)\.stylize-(?P<pid>\d{1,10})-(?P<token>[0-9a-f]{16})-(?P<tag>[0-9a-f]{8})\.part")
# A temporary file whose writer is gone is removed only once it is this old, in case its writer runs on
# another machine sharing the folder (where our process table says nothing).
STALE_PART_SECONDS = 600


@contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside `path` for writing; on success it replaces `path` in one rename.

    On any error the temporary file is removed and `path` is left as it was; an OSError (ENOSPC, EDQUOT, EIO,
    EACCES...) becomes a one-line WriteError. The parent folder is created if needed. The file gets the
    permissions a plain open() would give it.
    """
    path = Path(path)
    temporary = part_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: never open a file someone else made (or a link) at that name; the mode is a plain open()'s.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
        _hold(handle)  # while this process lives and writes, the file is locked: remove_stale_parts sees it
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        # Every write path (images, reports, checkpoints, model files, exports) meets a full disk, a quota or
        # an I/O error here: one line naming the file, never a traceback.
        if isinstance(error, OSError):
            raise WriteError(f"cannot write {path}: {error.strerror or error}") from None
        raise


def _hold(handle: int) -> None:
    """An advisory lock (flock) on an open temporary file, released by the kernel when its writer closes it or
    dies (SIGKILL included)."""
    try:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (ImportError, OSError):  # no flock (Windows, some network file systems): the age rule decides
        pass


def _held(path: str) -> bool | None:
    """Whether a process holds the lock of this temporary file (a writer at work); None where flock cannot
    tell (no flock, or the file cannot be opened)."""
    try:
        import fcntl

        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(handle)


def _part_tag(name: str, pid: str, token: str) -> str:
    return hashlib.sha256(os.fsencode(f"stylize part {name} {pid} {token}")).hexdigest()[:8]  # any name, UTF-8 or not


# The longest file name of the file systems in use: 255 bytes (ext4, XFS, Btrfs, ZFS); APFS and NTFS count 255
# characters, which a count of UTF-8 bytes never undercounts.
NAME_MAX = 255


def fitted_name(name: str, beside: int) -> str:
    """`name`, or where it and `beside` more bytes would pass NAME_MAX, a prefix of it and a digest of the
    whole: the name of a file that stylize keeps beside the file `name` (its temporary file, its lock, its work
    folder) must fit too, or a name that itself fits (a 240-byte output) could not be written at all ("File
    name too long"). Two long names that begin alike keep companions of their own."""
    if len(os.fsencode(name)) + beside <= NAME_MAX:
        return name
    digest = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:12]
    kept = name
    while kept and len(os.fsencode(kept + digest)) + beside > NAME_MAX:
        kept = kept[:-1]  # by characters, so that a UTF-8 name is never cut inside one
    return kept + digest


def companion_name(name: str, prefix: str, suffix: str) -> str:
    """`prefix + name + suffix`, with `name` shortened where the whole would pass NAME_MAX (fitted_name)."""
    return prefix + fitted_name(name, len(os.fsencode(prefix + suffix))) + suffix


def part_path(path: Path) -> Path:
    """A new temporary name beside `path` that remove_stale_parts will recognize as this tool's."""
    pid, token = str(os.getpid()), secrets.token_hex(8)
    rest = f".stylize-{pid}-{token}-"  # then the tag (8 digits) and PART_SUFFIX
    name = fitted_name(path.name, 1 + len(rest) + 8 + len(PART_SUFFIX))
    return path.with_name(f".{name}{rest}{_part_tag(name, pid, token)}{PART_SUFFIX}")


def part_writer(name: str) -> int | None:
    """The process id that made a temporary file of this name (part_path), or None if stylize did not make it."""
    match = _PART_NAME.fullmatch(name)
    if match is None or match["tag"] != _part_tag(match["name"], match["pid"], match["token"]):
        return None
    return int(match["pid"])


class OutputLock:
    """An advisory lock (flock) that says this process alone writes `path`: on the hidden file
    `.NAME.stylize-lock` beside it, removed on release. Two processes on one output folder (two `batch`
    runs, a `batch` and a `serve`) thus never write one file at once: the second skips it or stops."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock = self.path.with_name(companion_name(self.path.name, ".", ".stylize-lock"))
        self._handle: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False if another process holds it. A lock taken on a file that its
        holder removed meanwhile is taken again on a new one. WriteError if the lock's file cannot be made
        (the output's folder is not writable): the output could not be written either."""
        try:
            import fcntl
        except ImportError:  # no flock (Windows): no guard
            return True
        while True:
            try:
                self.lock.parent.mkdir(parents=True, exist_ok=True)
                handle = os.open(self.lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
            except OSError as error:  # a folder we may not write (EACCES, EROFS), a full disk: one line
                raise WriteError(f"cannot write {self.path}: {error.strerror or error}") from None
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(handle)
                return False
            try:
                if os.path.samestat(os.fstat(handle), os.stat(self.lock, follow_symlinks=False)):
                    self._handle = handle
                    return True
            except OSError:  # removed by the holder that just finished: take the lock on a new file
                pass
            os.close(handle)

    def release(self) -> None:
        if self._handle is not None:
            self.lock.unlink(missing_ok=True)
            os.close(self._handle)
            self._handle = None


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Within the block this process alone writes `path` (an OutputLock); BusyError at once if another
    process holds it (two identical `video -o same.mp4` runs shared one work folder and broke each other)."""
    lock = OutputLock(path)
    if not lock.acquire():
        raise BusyError(f"another stylize process is writing {path}: wait for it to finish, or choose another "
                        "output")
    try:
        yield
    finally:
        lock.release()


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    with atomic_output(path) as stream:
        stream.write(data)
    return Path(path)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # exists but is not ours, or not a pid we can ask about: leave its file alone
    return True


def remove_stale_parts(folder: Path) -> int:
    """Delete temporary files left in `folder` by killed stylize writers; returns how many were removed.

    Only names made by part_path count (shape and tag checked), only regular files, and only when their
    writer is gone: its lock can be taken (a writer holds one from its first byte to the rename, and the
    kernel drops it when the writer dies, so a run killed a second ago leaves nothing to a rerun), or, where
    locks cannot tell, its process is gone and the file is older than STALE_PART_SECONDS. A file made in the
    last second is left alone: its writer may not have locked it yet.
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        pid = part_writer(entry.name)
        if pid is None or not entry.is_file(follow_symlinks=False):
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        held = _held(entry.path)
        if held:
            continue
        gone = pid == os.getpid() or not _process_alive(pid)
        if (held is False and age > 1 and pid != os.getpid()) or (age > STALE_PART_SECONDS and gone):
            Path(entry.path).unlink(missing_ok=True)
            removed += 1
    return removed


def is_regular_file(path: Path) -> bool:
    """Whether `path` is (or links to) a regular file: fifos, devices and sockets can block a reader
    forever or never end, so nothing else is ever opened as an image or a model."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def walk_files(root: Path) -> Iterator[Path]:
    """Every regular file below `root`, recursively and in sorted order, skipping hidden files and folders
    (and fifos, devices and sockets, see is_regular_file).

    Links to folders are followed, but each real folder is walked once, whatever links point to it: a
    link to a parent (`ln -s .. loop`) adds nothing and two such loops cannot make the walk endless. A
    folder inside the tree is walked under its own path, not under a link's name.
    """
    def identity(path: str) -> tuple[int, int] | None:
        try:
            info = os.stat(path)
        except OSError:
            return None  # a dangling link
        return info.st_dev, info.st_ino

    # The tree's own folders, by identity: links to them are skipped, their real path walks them.
    own = {identity(folder) for folder, _, _ in os.walk(root)}
    own.discard(None)
    seen: set[tuple[int, int] | None] = {identity(str(root))}
    for folder, dirs, names in os.walk(root, followlinks=True):
        kept = []
        for name in sorted(dirs):
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            key = identity(path)
            if key is None or key in seen or (os.path.islink(path) and key in own):
                continue
            seen.add(key)
            kept.append(name)
        dirs[:] = kept
        for name in sorted(names):
            if not name.startswith(".") and is_regular_file(Path(folder) / name):
                yield Path(folder) / name


def is_within(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies below it, after resolving links."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be created in `folder` (or in the folders that would be made down to it), or None."""
    while not folder.exists():
        if folder.is_symlink():  # a dangling link: creating the folder would fail
            break
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder} is not writable"
    return None


def check_writable(path: Path, what: str = "output") -> None:
    """OutputError now, before any work, if `path` (a file to write) cannot be created or replaced."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; the {what} must be a file name")
    reason = _unwritable(path.parent)
    if reason is not None:
        raise OutputError(f"cannot write the {what} {path}: {reason}")
    if path.exists() and not os.access(path, os.W_OK) and not os.access(path.parent, os.W_OK):
        raise OutputError(f"cannot replace the {what} {path}: permission denied")


def check_writable_folder(folder: Path, what: str = "output folder") -> None:
    """OutputError now if files cannot be created in `folder` (created later if it does not exist)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"the {what} {folder} is a file, not a folder")
    reason = _unwritable(folder)
    if reason is not None:
        raise OutputError(f"cannot write into the {what} {folder}: {reason}")


class ReadFiles:
    """The files a job reads (inputs, styles, masks, references, models): no output may land on one.

    Files are compared by resolved path and by identity (device and inode), so a link or a hard link to
    an input counts as the input.
    """

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self._paths: dict[Path, str] = {}
        self._ids: dict[tuple[int, int], str] = {}
        self._folders: dict[Path, str] = {}
        for path in paths:
            self.add(path)

    def add_folder(self, folder: Path, role: str) -> None:
        """Every file below `folder` is read by the job (a folder of masks or references)."""
        self._folders.setdefault(Path(folder).resolve(), role)

    def add(self, path: Path, role: str = "an input image") -> None:
        path = Path(path)
        self._paths.setdefault(path.resolve(), role)
        try:
            info = path.stat()
        except OSError:
            return
        self._ids.setdefault((info.st_dev, info.st_ino), role)

    def add_all(self, paths: Iterable[Path], role: str = "an input image") -> None:
        for path in paths:
            self.add(path, role)

    def role_of(self, path: Path) -> str | None:
        """What the job reads at `path` ("an input image", "the style image", ...), or None."""
        path = Path(path)
        resolved = path.resolve()
        role = self._paths.get(resolved)
        for folder, folder_role in self._folders.items():
            if role is None and folder in resolved.parents:
                role = folder_role
        if role is None and path.exists():
            try:
                info = path.stat()
            except OSError:
                return None
            role = self._ids.get((info.st_dev, info.st_ino))
        return role

    def check(self, path: Path, what: str = "output") -> None:
        """OutputError if writing `path` would replace a file the job reads."""
        role = self.role_of(path)
        if role is not None:
            raise OutputError(f"the {what} {path} is {role} of this job; it would be overwritten: choose another")
