"""Find a CIFAKE-style dataset (zip or folder) and list its images without decoding them.

A source is a zip file or a folder. Every file below a folder named ``REAL`` or ``FAKE`` (any
case, at any depth) is an image of that label; an ancestor folder named ``train`` or ``test``
gives its split. Files with no split get one from a fixed, seeded split stratified by label and
class (``TEST_FRACTION`` to test), so the same source always splits the same way.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import DataError

__all__ = [
    "CLASS_NAMES",
    "LABELS",
    "SPLITS",
    "SUMMARY_DIR",
    "TEST_FRACTION",
    "Listing",
    "Rows",
    "label_of",
    "listing_fingerprint",
    "parse_class",
    "read_member",
    "resolve_source",
    "scan_source",
    "source_identity",
    "stratified_split",
]

LABELS = ("REAL", "FAKE")  # label index 0 = REAL, 1 = FAKE
SPLITS = ("train", "test")
CLASS_NAMES = (
    "unknown", "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # index 0 = unknown, 1..10 = CIFAR-10 classes as numbered in CIFAKE file names
TEST_FRACTION = 1 / 6  # CIFAKE's own ratio: 20k of 120k
SPLIT_SEED = 0

REPO_ROOT = Path(__file__).resolve().parents[2]
SUMMARY_DIR = REPO_ROOT / "data" / "summary"  # committed numbers computed from the full CIFAKE
DEFAULT_LOCATIONS = (
    REPO_ROOT / "data" / "cifake.zip",
    REPO_ROOT / "data" / "cifake",
    REPO_ROOT.parent / "shared" / "data" / "cifake.zip",
)

_CIFAKE_NAME = re.compile(r"^\d+(?: \((\d+)\))?\.jpe?g$", re.IGNORECASE)
_IGNORED_PARTS = ("__MACOSX",)


class Rows:
    """Row look-ups shared by a listing and a decoded dataset (rows sorted by ``paths``)."""

    labels: np.ndarray
    splits: np.ndarray
    classes: np.ndarray

    if TYPE_CHECKING:  # a field of a dataset, computed by a listing: only read here
        @property
        def paths(self) -> np.ndarray: ...

    def __len__(self) -> int:
        return len(self.labels)

    def sample(
        self, n: int, *, seed: int = 0, split: int | None = None, label: int | None = None,
        class_index: int | None = None, mask: np.ndarray | None = None,
    ) -> np.ndarray:
        """Up to ``n`` random row indices among rows matching the given split, label and class
        and, when given, the boolean row ``mask``."""
        keep = np.ones(len(self), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        for values, wanted in ((self.splits, split), (self.labels, label),
                               (self.classes, class_index)):
            if wanted is not None:
                keep = keep & (values == wanted)
        rows = np.flatnonzero(keep)
        return np.random.default_rng(seed).choice(rows, size=min(n, len(rows)), replace=False)

    def rows_of(self, paths) -> np.ndarray:
        """Row index of each path (``paths`` are sorted); -1 where absent."""
        paths = np.asarray(paths, dtype=str)
        if not len(self):
            return np.full(len(paths), -1)
        pos = np.clip(np.searchsorted(self.paths, paths), 0, len(self) - 1)
        return np.where(self.paths[pos] == paths, pos, -1)


@dataclass(frozen=True)
class Listing(Rows):
    """The images a source holds, before decoding.

    Attributes
    ----------
    source : Path
        The zip file or folder.
    members : list of str
        Each image's path inside the zip, or relative to the folder (POSIX separators).
    labels, splits, classes : ndarray of shape (n,), dtype int8
        0 REAL / 1 FAKE; 0 train / 1 test; 0 unknown / 1..10 CIFAR class.
    split_given : bool
        True when the folders named the split; False when the seeded split assigned it.
    """

    source: Path
    members: list[str]
    labels: np.ndarray
    splits: np.ndarray
    classes: np.ndarray
    split_given: bool

    @functools.cached_property
    def paths(self) -> np.ndarray:
        return np.array(self.members, dtype=str)

    @property
    def is_zip(self) -> bool:
        return self.source.is_file()

    def read(self):
        """Yield ``(member, bytes)`` for every image in listing order; unreadable files yield an
        ``OSError`` instance in place of the bytes."""
        if self.is_zip:
            with _open_zip(self.source) as archive:
                yield from _read_zip(archive, self.members)
        else:
            yield from _read_files(self.source, self.members)

    def read_rows(self, rows):
        """Like ``read``, for the given rows only; a zip's index is parsed once per process
        (later calls cost only the files they read)."""
        members = [self.members[r] for r in rows]
        if self.is_zip:
            yield from _read_zip(_shared_zip(self.source, os.stat(self.source).st_mtime_ns),
                                 members)
        else:
            yield from _read_files(self.source, members)


def listing_fingerprint(listing: Listing) -> str:
    """Identity of a source from its listing only (each image's path and byte size, no file
    read): the same for the zip and its extracted folder, different once a file is added,
    removed, renamed or changes size. ``Dataset.fingerprint`` (content hashes) is the exact one."""
    if listing.is_zip:
        sizes = _shared_zip(listing.source, os.stat(listing.source).st_mtime_ns).NameToInfo
        size_of = lambda m: sizes[m].file_size  # noqa: E731
    else:
        size_of = lambda m: (listing.source / m).stat().st_size  # noqa: E731
    digest = hashlib.blake2b(digest_size=8)
    for member in listing.members:
        digest.update(f"{member}\0{size_of(member)}\n".encode())
    return digest.hexdigest()


def _read_zip(archive: zipfile.ZipFile, members):
    for member in members:
        try:
            yield member, archive.read(member)
        except (OSError, KeyError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
            yield member, OSError(f"cannot read from zip: {exc}")


def _read_files(source: Path, members):
    for member in members:
        try:
            yield member, (source / member).read_bytes()
        except OSError as exc:
            yield member, OSError(f"cannot read file: {exc.strerror or exc}")


@functools.lru_cache(maxsize=2)
def _shared_zip(source: Path, mtime_ns: int) -> zipfile.ZipFile:
    """An open zip kept for later reads (``ZipFile`` reads are thread-safe); keyed by
    modification time so a replaced file is opened afresh."""
    return _open_zip(source)


def read_member(source: str | os.PathLike, member: str) -> bytes:
    """One image file's bytes from a zip or folder source; raises OSError when it cannot be
    read."""
    source = Path(source)
    if source.is_file():
        archive = _shared_zip(source, os.stat(source).st_mtime_ns)  # the index is read once
        try:
            return archive.read(member)
        except (KeyError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
            raise OSError(f"cannot read {member} from the zip: {exc}") from None
    return (source / member).read_bytes()


def source_identity(path: str | os.PathLike) -> str:
    """A short key that changes whenever the source's files change: path, size and modification
    time of a zip, or of every file in a folder."""
    source = Path(path).expanduser().resolve()
    digest = hashlib.blake2b(str(source).encode(), digest_size=16)
    if source.is_file():
        stat = source.stat()
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    else:
        for name in sorted(_folder_names(source)):
            stat = (source / name).stat()
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def parse_class(filename: str) -> int:
    """CIFAR-10 class index from a CIFAKE file name: ``N.jpg`` is 1, ``N (k).jpg`` is k, else 0.

    >>> parse_class("1234 (7).jpg"), parse_class("0042.jpg"), parse_class("cat.png")
    (7, 1, 0)
    """
    match = _CIFAKE_NAME.match(filename)
    if match is None:
        return 0
    k = int(match.group(1) or 1)
    return k if 1 <= k <= 10 else 0


def resolve_source(path: str | os.PathLike | None = None) -> Path:
    """Where the data is: ``path`` if given, else ``$CIFAKE_PATH``, else the first default
    location that exists (``data/cifake.zip``, ``data/cifake/``, ``../shared/data/cifake.zip``).

    Raises
    ------
    DataError
        If the given path does not exist, or no location holds data.
    """
    explicit = path or os.environ.get("CIFAKE_PATH")
    if explicit:
        candidate = Path(explicit).expanduser()
        if not candidate.exists():
            origin = "CIFAKE_PATH" if not path else "the given path"
            raise DataError(f"No file or folder at {candidate} ({origin}).")
        return candidate.resolve()
    for candidate in DEFAULT_LOCATIONS:
        if candidate.exists():
            return candidate.resolve()
    tried = ", ".join(str(p) for p in DEFAULT_LOCATIONS)
    raise DataError(f"CIFAKE not found. Looked in: {tried}.")


def scan_source(path: str | os.PathLike) -> Listing:
    """List the labelled images in a zip or folder (no decoding).

    Raises
    ------
    DataError
        If the path is missing, the zip is unreadable, or no REAL and FAKE images are found.
    """
    source = Path(path).expanduser().resolve()
    if not source.exists():
        raise DataError(f"No file or folder at {source}.")
    names = _zip_names(source) if source.is_file() else _folder_names(source)
    rows = [(name, *where) for name in names if (where := _place(name)) is not None]
    if not rows:
        raise DataError(
            f"No images under REAL/ or FAKE/ folders in {source}. Expected a layout such as "
            "train/REAL/*.jpg, train/FAKE/*.jpg (as in the Kaggle CIFAKE download)."
        )
    rows.sort()
    members = [r[0] for r in rows]
    labels = np.array([r[1] for r in rows], dtype=np.int8)
    missing = [LABELS[i] for i in (0, 1) if not (labels == i).any()]
    if missing:
        raise DataError(f"Found images for one label only in {source}: no {missing[0]}/ folder.")
    classes = np.array([parse_class(m.rsplit("/", 1)[-1]) for m in members], dtype=np.int8)
    splits = np.array([r[2] for r in rows], dtype=np.int8)
    unsplit = splits < 0
    if unsplit.any():
        splits[unsplit] = stratified_split(labels[unsplit], classes[unsplit], TEST_FRACTION,
                                           seed=SPLIT_SEED)
    return Listing(source, members, labels, splits, classes, split_given=not unsplit.any())


def _zip_names(source: Path) -> list[str]:
    archive = _shared_zip(source, os.stat(source).st_mtime_ns)
    return [info.filename for info in archive.infolist() if not info.is_dir()]


def _open_zip(source: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise DataError(
            f"{source.name} is not a readable zip archive (corrupt or not a zip)."
        ) from None
    except OSError as exc:
        raise DataError(f"Cannot open {source}: {exc.strerror or exc}.") from None


def _folder_names(source: Path) -> list[str]:
    names: list[str] = []
    for root, dirs, files in os.walk(source, onerror=None):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(root).relative_to(source)
        names.extend((rel / f).as_posix() for f in files)
    return names


def label_of(name: str) -> int | None:
    """0 (REAL) or 1 (FAKE) for a file path below a REAL/ or FAKE/ folder, else None."""
    where = _place(name)
    return None if where is None else where[0]


def _place(name: str) -> tuple[int, int] | None:
    """(label, split or -1) of a file below REAL/ or FAKE/, else None."""
    folder, _, filename = name.rpartition("/")
    if filename.startswith(".") or filename in _IGNORED_PARTS:
        return None
    return _folder_place(folder)


@functools.lru_cache(maxsize=4096)
def _folder_place(folder: str) -> tuple[int, int] | None:
    """(label, split or -1) of the files in a folder (worked out once per folder)."""
    label = split = -1
    for part in folder.split("/") if folder else ():
        if part.startswith(".") or part in _IGNORED_PARTS:
            return None
        upper = part.upper()
        if upper in LABELS:
            label = LABELS.index(upper)
        elif part.lower() in SPLITS:
            split = SPLITS.index(part.lower())
    return (label, split) if label >= 0 else None


def stratified_split(labels: np.ndarray, classes: np.ndarray, fraction: float, *,
                     seed: int) -> np.ndarray:
    """Boolean mask picking ``fraction`` of each (label, class) stratum, reproducibly."""
    rng = np.random.default_rng(seed)
    picked = np.zeros(len(labels), dtype=bool)
    strata = labels.astype(np.int64) * 16 + classes
    for stratum in np.unique(strata):
        idx = np.flatnonzero(strata == stratum)
        picked[rng.permutation(idx)[:int(round(len(idx) * fraction))]] = True
    return picked
