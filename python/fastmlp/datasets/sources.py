"""The named datasets: their files, public mirrors and published checksums.

The MD5 checksums are the ones torchvision publishes in ``torchvision/datasets/mnist.py``
(classes ``MNIST`` and ``FashionMNIST``) for the ``.gz`` files on the mirrors below. They are
checked for downloads only: copies found on disk are checked by structure instead (see
:func:`fastmlp.datasets.read_idx`), because repackaged copies differ in their gzip headers --
Debian's ``dataset-fashion-mnist``, for one, recompresses the files, so their ``.gz`` MD5s
differ while the decompressed data is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

#: The four parts of an IDX dataset, in the order they are read.
ROLES = ("train_images", "train_labels", "test_images", "test_labels")

#: The standard IDX file names (without ``.gz``) for each part.
STANDARD_NAMES = MappingProxyType(
    {
        "train_images": "train-images-idx3-ubyte",
        "train_labels": "train-labels-idx1-ubyte",
        "test_images": "t10k-images-idx3-ubyte",
        "test_labels": "t10k-labels-idx1-ubyte",
    }
)

#: The dotted variants some archives use (``train-images.idx3-ubyte``, as in seed 004).
DOTTED_NAMES = MappingProxyType(
    {role: name.replace("-idx", ".idx") for role, name in STANDARD_NAMES.items()}
)

#: The name of the small dataset shipped inside the package.
SAMPLE_NAME = "mnist-sample"


@dataclass(frozen=True)
class DatasetSource:
    """Where a named IDX dataset lives.

    Attributes:
        name: the name passed to :func:`fastmlp.datasets.load`, e.g. ``"mnist"``.
        folders: subfolder names tried under ``data_dir``, ``$FASTMLP_DATA`` and the cache;
            the first is the one downloads go to.
        system_dirs: absolute directories where an OS package may install the files.
        mirrors: base URLs, tried in order; a file's URL is the base plus its ``.gz`` name.
        md5: the published MD5 of each ``.gz`` file, by file name.
        classes: the class names, indexed by label.
        citation: who made the dataset.
    """

    name: str
    folders: tuple[str, ...]
    system_dirs: tuple[str, ...]
    mirrors: tuple[str, ...]
    md5: MappingProxyType
    classes: tuple[str, ...]
    citation: str

    def download_names(self) -> tuple[str, ...]:
        """The ``.gz`` file names on the mirrors, in :data:`ROLES` order."""
        return tuple(f"{STANDARD_NAMES[role]}.gz" for role in ROLES)


MNIST = DatasetSource(
    name="mnist",
    folders=("mnist", "MNIST/raw"),
    system_dirs=("/usr/share/datasets/mnist",),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    md5=MappingProxyType(
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        }
    ),
    classes=tuple(str(d) for d in range(10)),
    citation="MNIST: Y. LeCun, C. Cortes, C. J. C. Burges",
)

FASHION_MNIST = DatasetSource(
    name="fashion-mnist",
    folders=("fashion-mnist", "FashionMNIST/raw"),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    md5=MappingProxyType(
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        }
    ),
    classes=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    citation="Fashion-MNIST: H. Xiao, K. Rasul, R. Vollgraf (Zalando Research)",
)

#: The named datasets that are looked up on disk and downloaded, by name.
DATASETS: MappingProxyType = MappingProxyType({s.name: s for s in (MNIST, FASHION_MNIST)})

#: Every name :func:`fastmlp.datasets.load` accepts.
NAMES = (*DATASETS, SAMPLE_NAME)


def get_source(name: str) -> DatasetSource:
    """The :class:`DatasetSource` called ``name``; ``ValueError`` listing the names if none."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"no downloadable dataset named {name!r}; the names are {', '.join(DATASETS)}"
        ) from None
