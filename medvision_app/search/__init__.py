"""Neural architecture search: BbNAS / SE-BbNAS (block-based, randomised) and ENAS (micro cells).

Headless first: the CLI and, later, the GUI drive :func:`start_search` and
:func:`resume_search` and listen to the events in :mod:`.events`.
"""

from medvision_app.networks.builder import InvalidGenotype, build, count_flops, count_parameters
from medvision_app.networks.genotype import Genotype, GenotypeError, Layer, format_genotype, parse
from medvision_app.search.config import SearchConfig
from medvision_app.search.runner import resume_search, start_search
from medvision_app.search.state import SearchStateError
from medvision_app.search.transforms import add_block, add_layer, concat, random_child, widen

__all__ = [
    "Genotype", "GenotypeError", "InvalidGenotype", "Layer", "SearchConfig", "SearchStateError",
    "add_block", "add_layer", "build", "concat", "count_flops", "count_parameters", "format_genotype",
    "parse", "random_child", "resume_search", "start_search", "widen",
]
