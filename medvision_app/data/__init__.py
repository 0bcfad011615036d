"""Training data: sources, leak-free splits, metadata encoding and in-memory datasets."""

from medvision_app.data.config import DataConfig, SplitConfig
from medvision_app.data.errors import DataError
from medvision_app.data.metadata import MetadataEncoding, fit_encoding
from medvision_app.data.sources import detect_format, read_source
from medvision_app.data.splits import grouped_stratified_split
from medvision_app.data.table import SampleTable

# The datasets are torch Datasets; prediction uses this package's image
# helpers on reading stations that may have no torch, so what needs torch is
# imported on first use.
_LAZY = {
    "InMemoryDataset": "medvision_app.data.dataset",
    "PreparedData": "medvision_app.data.prepare",
    "prepare_data": "medvision_app.data.prepare",
    "split_table": "medvision_app.data.prepare",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DataConfig",
    "DataError",
    "InMemoryDataset",
    "MetadataEncoding",
    "PreparedData",
    "SampleTable",
    "SplitConfig",
    "detect_format",
    "fit_encoding",
    "grouped_stratified_split",
    "prepare_data",
    "read_source",
    "split_table",
]
