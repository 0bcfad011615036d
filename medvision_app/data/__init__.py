"""Training data: sources, leak-free splits, metadata encoding and in-memory datasets."""

from medvision_app.data.config import DataConfig, SplitConfig
from medvision_app.data.dataset import InMemoryDataset
from medvision_app.data.errors import DataError
from medvision_app.data.metadata import MetadataEncoding, fit_encoding
from medvision_app.data.prepare import PreparedData, prepare_data, split_table
from medvision_app.data.sources import detect_format, read_source
from medvision_app.data.splits import grouped_stratified_split
from medvision_app.data.table import SampleTable

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
