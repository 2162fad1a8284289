"""MNIST and Fashion-MNIST: find the IDX files locally, or download and verify them.

Where the files are looked for, in order: the ``root`` argument, else ``$MINIGRAD_DATA``,
else ``~/.cache/minigrad``. A root that holds the dataset's files is used as it is; otherwise
the dataset lives in the subdirectory ``<root>/<name>`` (``mnist``, ``fashion-mnist``), which
is also where downloads go. Each file may be gzip-compressed (``.gz``) or raw.
``$MINIGRAD_DATA`` must name an existing directory: a mistyped one is an error, not a
place to download into.

Every file is checked before use: a ``.gz`` against the MD5 of the published download, or
(when the gzip bytes differ, as re-compressed copies do) its decompressed content against a
SHA-256; a raw file against that SHA-256. A mismatch is an error naming the file, never
silently different data.
"""
import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from minigrad._atomic import atomic_open
from minigrad.data import transforms
from minigrad.data.collate import default_collate
from minigrad.data.dataset import Dataset
from minigrad.data.idx import IDXError, gunzip, is_gzip, parse_idx
from minigrad.tensor import Tensor


def _array(x):
    return x.array if isinstance(x, Tensor) else np.asarray(x)


class DatasetError(RuntimeError):
    """The dataset's files are missing, cannot be downloaded, or fail verification."""


def _default_root(dataset):
    root = os.environ.get("MINIGRAD_DATA")
    if root:
        path = Path(root).expanduser()
        if not path.is_dir():  # a typo, most likely: say so rather than download into it
            what = "that is a file, not a directory" if path.exists() else \
                "this directory does not exist"
            raise DatasetError(
                f"{dataset}: MINIGRAD_DATA is set to {path}, but {what}. Set it to the "
                f"directory holding the dataset's IDX files (or an existing directory to "
                f"download into), or unset it to use ~/.cache/minigrad.")
        return path, "$MINIGRAD_DATA"
    return Path("~/.cache/minigrad").expanduser(), "the default cache directory"


class MNIST(Dataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28
    (torchvision's ``MNIST``, reading local or downloaded IDX files; see the module
    docstring for where it looks).

    ``data`` holds the images as a uint8 Tensor (N, 28, 28) and ``targets`` the labels as
    an int64 Tensor (N,), as in torchvision (they may be replaced, e.g. by slices of
    themselves, to use part of the set). ``classes`` and ``class_to_idx`` are torchvision's.

    ``ds[i]`` is ``(image, label)``. ``transform`` and ``target_transform`` have
    torchvision's meaning, with one difference: minigrad has no PIL, so ``transform``
    receives the image as a uint8 NumPy array of shape (28, 28) (a copy), where
    torchvision passes a PIL image; ``transforms.ToTensor()`` takes either the same way.
    ``target_transform`` receives the label as an int. Without a transform the image is a
    float32 Tensor (1, 28, 28) scaled to [0, 1] (what ``ToTensor()`` gives).

    Batches: the DataLoader fetches a batch with one array index when there is no
    ``target_transform`` and ``transform`` is None or built from ``Compose``,
    ``ToTensor`` and ``Normalize`` (same arithmetic, the same bits as image by image);
    other transforms run image by image. (+) ``ds[a:b]`` or ``ds[index_array]`` gives a
    batch ``(images, labels)`` the same way.
    """

    name = "mnist"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/",
               "http://yann.lecun.com/exdb/mnist/")
    # stem: (MD5 of the published .gz, SHA-256 of the decompressed file, its size in bytes).
    # A subclass for other files may give (MD5, SHA-256) only: its sizes are then unknown
    # and only the IDX headers bound what is read.
    checksums = {
        "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                                    47040016),
        "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432",
                                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                                    60008),
        "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3",
                                   "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                                   7840016),
        "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c",
                                   "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                                   10008),
    }
    splits = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train=True, download=True, transform=None,
                 target_transform=None):
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        self.root, self._how = self._locate(root)
        images, labels = (self._load(stem, download) for stem in self.splits[bool(train)])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DatasetError(f"{type(self).__name__}: images {images.shape} and labels "
                               f"{labels.shape} in {self.root} do not fit together")
        self.data = Tensor(images)
        self.targets = Tensor(labels.astype(np.int64))

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            image = _array(self.data)[index]
            target = int(_array(self.targets)[index])
            if self.transform is None:
                image = Tensor(image[None].astype(np.float32) / np.float32(255))
            else:
                image = self.transform(image.copy())
            if self.target_transform is not None:
                target = self.target_transform(target)
            return image, target
        batch = self._collated_batch(index)
        if batch is None:
            picks = np.arange(len(self))[index]
            batch = default_collate([self[int(i)] for i in picks])
        return tuple(batch)

    def _collated_batch(self, index):
        """The batch at ``index`` as default_collate would build it, with one array index;
        None where a transform must run image by image (see the class docstring)."""
        if self.target_transform is not None:
            return None
        if isinstance(index, list):
            index = np.asarray(index, dtype=np.int64)   # (NumPy indexes faster with arrays)
        images = _array(self.data)[index]
        if self.transform is None:
            x = images[:, None].astype(np.float32)
            x /= np.float32(255)    # ToTensor's arithmetic: the same bits as ds[i]
            x = Tensor(x)
        else:
            step = transforms.batched(self.transform, images.ndim - 1)
            if step is None:
                return None
            try:
                x = step(images)
            except Exception:   # image by image instead, which raises what it raises
                return None
        return [x, Tensor(_array(self.targets)[index])]

    def __repr__(self):
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(split={split}, samples={len(self)}, root={self.root})"

    # ------------------------------------------------------------ files
    @classmethod
    def _locate(cls, root):
        if root is None:
            root, how = _default_root(cls.__name__)
        else:
            root, how = Path(root).expanduser(), "the root argument"
        has_files = any((root / s).exists() or (root / f"{s}.gz").exists()
                        for s in cls.checksums)
        return (root if has_files else root / cls.name), how

    def _load(self, stem, download):
        candidates = (self.root / f"{stem}.gz", self.root / stem)
        for p in candidates:
            if p.exists() and not p.is_file():
                raise DatasetError(f"{type(self).__name__}: {p} is a directory (or another "
                                   f"non-file) where the IDX file should be; remove or rename "
                                   f"it, or point root= (--data-root in the example scripts) "
                                   f"elsewhere.")
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            if not download:
                raise DatasetError(self._missing(stem, "download=False"))
            path = self._download(stem)
        try:
            return parse_idx(self._verified_bytes(path, stem), path.name,
                             self._known(stem)[2])
        except IDXError as e:  # raw files without a known checksum fail here
            raise DatasetError(self._corrupt(path, str(e))) from e

    def _known(self, stem):
        """(MD5 of the .gz, SHA-256 of the content, size of the content), None if unknown."""
        gz_md5, raw_sha256, *size = self.checksums[stem]
        return gz_md5, raw_sha256, (size[0] if size else None)

    def _verified_bytes(self, path, stem):
        gz_md5, raw_sha256, size = self._known(stem)
        if size is not None:
            self._check_file_size(path, size)
        data = path.read_bytes()
        if is_gzip(data):
            gz_digest = hashlib.md5(data).hexdigest()  # the compressed bytes first
            if gz_digest == gz_md5:
                return data
            if raw_sha256 is None:
                raise DatasetError(self._corrupt(
                    path, f"its MD5 is {gz_digest}, expected {gz_md5}"))
            try:  # a re-compressed copy: its content decides (decompression is bounded)
                data = gunzip(data, str(path), size)
            except IDXError as e:
                raise DatasetError(self._corrupt(path, str(e))) from e
        if raw_sha256 is not None:
            digest = hashlib.sha256(data).hexdigest()
            if digest != raw_sha256:
                raise DatasetError(self._corrupt(
                    path, f"the SHA-256 of its content is {digest}, expected {raw_sha256}"))
        return data

    def _check_file_size(self, path, size):
        """Refuse, before reading it, a file too large to be (a gzip of) the ``size``-byte
        file it should be: memory never follows the size of a file that is not MNIST's."""
        on_disk = path.stat().st_size
        with open(path, "rb") as f:
            gzipped = is_gzip(f.read(2))
        # deflate's worst case (zlib's deflateBound) is ~0.03 % over the input, plus headers
        limit = size + size // 1000 + 1024 if gzipped else size
        if on_disk > limit or (not gzipped and on_disk != size):
            what = (f"more than a gzip of the genuine {size}-byte file can be" if gzipped
                    else f"where the genuine file is {size}")
            raise DatasetError(self._corrupt(path, f"it is {on_disk} bytes, {what}"))

    def _corrupt(self, path, why):
        return (f"{type(self).__name__}: {path} failed verification: {why}. The file is "
                f"corrupt, truncated, or belongs to another dataset; delete it to download "
                f"it again, or replace it with the published file.")

    def _missing(self, stem, why):
        return (f"{type(self).__name__}: {stem}.gz (or {stem}) not found in {self.root} "
                f"(from {self._how}), and {why}. To use local files, put the four IDX files "
                f"(.gz or raw) in a directory and pass root=DIR (the example scripts: "
                f"--data-root DIR) or set MINIGRAD_DATA=DIR.")

    def _download(self, stem):
        gz_md5 = self._known(stem)[0]
        failures = []
        for mirror in self.mirrors:
            url = f"{mirror}{stem}.gz"
            try:
                print(f"Downloading {url}", file=sys.stderr)
                with urllib.request.urlopen(url, timeout=30) as response:
                    data = response.read()
            except (urllib.error.URLError, OSError, ValueError) as e:
                failures.append(f"{url} ({type(e).__name__}: {e})")
                continue
            digest = hashlib.md5(data).hexdigest()
            if digest != gz_md5:
                failures.append(f"{url} (MD5 {digest}, expected {gz_md5})")
                continue
            path = self.root / f"{stem}.gz"
            with atomic_open(path) as f:
                f.write(data)
            return path
        raise DatasetError(self._missing(
            stem, "downloading failed from every mirror: " + "; ".join(failures)))


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: the same format and sizes as MNIST, ten clothing classes."""

    name = "fashion-mnist"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
               "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/"
               "fashion/")
    # Only the published .gz files' MD5s are known here; a raw copy is checked by the IDX
    # parser's structure checks alone.
    # (Its files have MNIST's sizes.)
    checksums = {
        "train-images-idx3-ubyte": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", None, 47040016),
        "train-labels-idx1-ubyte": ("25c81989df183df01b3e8a0aad5dffbe", None, 60008),
        "t10k-images-idx3-ubyte": ("bef4ecab320f06d8554ea6380940ec79", None, 7840016),
        "t10k-labels-idx1-ubyte": ("bb300cfdad3c16e7a12a480ee83cd310", None, 10008),
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]

