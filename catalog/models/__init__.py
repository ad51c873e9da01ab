"""The catalog's data model, one module per concern."""

from catalog.models.benchmarks import BenchmarkResult
from catalog.models.conversion import ConversionPart, ConversionRun, ConversionTarget
from catalog.models.crops import Crop, CropContent
from catalog.models.curated_views import CuratedView, CuratedViewLayer
from catalog.models.datasets import DOI, Collection, CollectionDownload, Dataset, DatasetDOI, Publication
from catalog.models.derived import CatalogVersion, DatasetClass
from catalog.models.ingest import IngestRun, VolumeStatistics
from catalog.models.saved_states import SavedState
from catalog.models.vocabulary import CellType, Institution, LabelClass, Organism, Tissue, Treatment
from catalog.models.volumes import Mesh, SegmentLabel, Volume, VolumeChannel

__all__ = [
    "DOI",
    "BenchmarkResult",
    "CatalogVersion",
    "CellType",
    "Collection",
    "CollectionDownload",
    "ConversionPart",
    "ConversionRun",
    "ConversionTarget",
    "Crop",
    "CropContent",
    "CuratedView",
    "CuratedViewLayer",
    "Dataset",
    "DatasetClass",
    "DatasetDOI",
    "IngestRun",
    "Institution",
    "LabelClass",
    "Mesh",
    "Organism",
    "Publication",
    "SavedState",
    "SegmentLabel",
    "Tissue",
    "Treatment",
    "Volume",
    "VolumeChannel",
    "VolumeStatistics",
]
