"""The two request mixes of the benchmark and the targets each request must reach: one place.

The repeated mix (``ENDPOINTS``) asks the same few paths again and again: the steady state of
the per-version caches. Its paths are built from ``Samples`` taken from the generated catalog,
so that per-object endpoints rotate over many records and filters use values that exist.

The distinct mix (``DISTINCT_ENDPOINTS``, issue 12) asks thousands of different paths per
endpoint, built by ``bench.distinct`` from the catalog's own words and values, with the
caches emptied before each measured run: what real traffic and every catalog write cost. Its
JSON cells also run against datasette serving the same catalog. An endpoint whose path answers
404 is reported as not available.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

# Kinds of endpoint: what the throughput and latency targets apply to.
FLOOR = "floor"
PAGE = "page"
JSON = "json"
STATE = "state"
REVALIDATE = "revalidate"
JSON_KINDS = {JSON, STATE, REVALIDATE}

MAX_QUERIES = 10
MAX_SCALING = 1.5
MIN_FLOOR_RATIO = 1 / 3
MAX_WORKER_RSS_MB = 200
ROTATION = 200

# Issue 12's targets for the distinct mix.
DISTINCT_MAX_SCALING = 1.3
MIN_DATASETTE_RATIO = 2.0
# "The repeated mix keeps today's figures": p50 and throughput within this fraction of the
# baseline (bench/baseline.json), or p50 within BASELINE_SLACK_MS (sub-millisecond noise).
BASELINE_TOLERANCE = 0.2
BASELINE_SLACK_MS = 0.5


@dataclass(frozen=True)
class Samples:
    """Values from the generated catalog that the paths are built with."""

    organism: str
    modality: str
    search: str
    dataset_slugs: list[str]
    crop_numbers: list[int]
    crop_class: str = "mito_mem"
    """The class present in the most crops: the crop list filtered by it has the most rows."""


@dataclass(frozen=True)
class Endpoint:
    """One request of the mix, with its latency targets (ms; None: no target)."""

    name: str
    label: str
    kind: str
    paths: Callable[[Samples], list[str]]
    p50_ms: float | None = None
    p95_ms: float | None = None
    conditional: bool = False
    notes: str = ""
    tags: tuple[str, ...] = field(default=())


def _one(path: str) -> Callable[[Samples], list[str]]:
    return lambda samples: [path.format(s=samples)]


def _each_dataset(template: str) -> Callable[[Samples], list[str]]:
    return lambda samples: [template.format(slug=slug) for slug in samples.dataset_slugs]


def _each_crop(template: str) -> Callable[[Samples], list[str]]:
    return lambda samples: [template.format(number=number) for number in samples.crop_numbers]


ENDPOINTS: list[Endpoint] = [
    Endpoint("floor", "Floor: bare Django JSON view", FLOOR, _one("/bench/floor/")),
    Endpoint("browse", "Browse page, no filter", PAGE, _one("/datasets/"), p50_ms=60),
    Endpoint("browse-facet", "Browse page, one facet (organism)", PAGE, _one("/datasets/?organism={s.organism}"), 60),
    Endpoint("browse-search", "Browse page, search", PAGE, _one("/datasets/?q={s.search}"), p50_ms=60),
    Endpoint("dataset-page", "Dataset page (200 datasets)", PAGE, _each_dataset("/datasets/{slug}/"), p50_ms=40),
    Endpoint(
        "api-list",
        "API datasets, organism + modality filter",
        JSON,
        _one("/api/datasets/?organism={s.organism}&modality={s.modality}"),
        p50_ms=25,
        p95_ms=60,
    ),
    Endpoint("api-search", "API datasets, search", JSON, _one("/api/datasets/?q={s.search}"), p50_ms=25, p95_ms=60),
    Endpoint("api-facets", "API facet counts", JSON, _one("/api/datasets/facets/"), p50_ms=25, p95_ms=60),
    Endpoint("api-crops", "API crop list", JSON, _one("/api/crops/"), p50_ms=25, p95_ms=60),
    Endpoint(
        "api-crops-present",
        "API crops with a class present, largest share first",
        JSON,
        _one("/api/crops/?organelle={s.crop_class}&present=true&ordering=-share"),
        p50_ms=25,
        p95_ms=60,
    ),
    Endpoint(
        "api-crop-manifest",
        "Crop manifest CSV, every crop x class",
        JSON,
        _one("/api/crops/manifest.csv"),
        p50_ms=25,
        p95_ms=60,
        notes="One row per crop and class: about 16 rows per crop (330,000 at 20,000 crops).",
    ),
    Endpoint(
        "state-dataset", "State JSON, dataset (200 datasets)", STATE, _each_dataset("/api/states/datasets/{slug}/"), 10
    ),
    Endpoint("state-crop", "State JSON, crop (200 crops)", STATE, _each_crop("/api/states/crops/{number}/"), 10),
    Endpoint(
        "state-304",
        "State revalidation, If-None-Match -> 304",
        REVALIDATE,
        _each_dataset("/api/states/datasets/{slug}/"),
        p50_ms=5,
        conditional=True,
    ),
]


@dataclass(frozen=True)
class DistinctEndpoint:
    """One endpoint of the distinct mix: its pool (``bench.distinct.POOLS``, same name) and targets.

    ``datasette`` describes the equivalent datasette request; empty when there is none (pages).
    """

    name: str
    label: str
    kind: str
    p50_ms: float | None = None
    p95_ms: float | None = None
    datasette: str = ""


DISTINCT_ENDPOINTS: list[DistinctEndpoint] = [
    DistinctEndpoint(
        "api-list",
        "API datasets by organism (+ filters, order, page)",
        JSON,
        p50_ms=10,
        p95_ms=30,
        datasette="table filters (column, __arraycontains), _sort, _next",
    ),
    DistinctEndpoint(
        "api-search",
        "API full-text search (words, page)",
        JSON,
        p50_ms=10,
        p95_ms=30,
        datasette="_search (FTS5), _next",
    ),
    DistinctEndpoint(
        "api-facets",
        "API facet counts (filters, words)",
        JSON,
        p50_ms=10,
        p95_ms=30,
        datasette="_facet and _facet_array, _size=0",
    ),
    DistinctEndpoint("api-detail", "API dataset detail", JSON, p50_ms=10, p95_ms=30, datasette="row JSON"),
    DistinctEndpoint(
        "api-crops",
        "API crops by class (+ split, order, page)",
        JSON,
        p50_ms=10,
        p95_ms=30,
        datasette="__arraycontains, _sort_desc, _next",
    ),
    DistinctEndpoint(
        "api-crops-present",
        "API crops with a class present (+ split, minimum share or voxels, order)",
        JSON,
        p50_ms=10,
        p95_ms=30,
    ),
    DistinctEndpoint(
        "api-crop-manifest", "Crop manifest CSV by class (+ split, presence, minimum share)", JSON, p50_ms=10, p95_ms=30
    ),
    DistinctEndpoint("browse", "Browse page with facets (filters, words, page)", PAGE, p50_ms=30),
    DistinctEndpoint("dataset-page", "Dataset page", PAGE, p50_ms=30),
]

# Query counts must not grow with the page size either: these pairs are compared at both sizes.
PAGE_SIZE_PROBES: dict[str, tuple[str, str]] = {
    "api-list": ("/api/datasets/?page_size=10", "/api/datasets/?page_size=100"),
    "api-crops": ("/api/crops/?page_size=10", "/api/crops/?page_size=100"),
}


def endpoint_by_name(name: str) -> Endpoint:
    for endpoint in ENDPOINTS:
        if endpoint.name == name:
            return endpoint
    raise KeyError(f"unknown endpoint {name!r}; known: {', '.join(e.name for e in ENDPOINTS)}")


def collect_samples(*, seed: int = 11, search: str = "mitochondria") -> Samples:
    """Pick the filter values and the rotated records from the catalog in the database.

    The organism is the second most common (a facet that selects a real fraction, not all);
    datasets and crops are a seeded random sample, the same at every catalog size's run.
    """
    from django.db.models import Count

    from catalog.models import Crop, CropContent, Dataset, Organism

    rng = random.Random(seed)
    organisms = list(
        Organism.objects.annotate(n=Count("datasets")).filter(n__gt=0).order_by("-n").values_list("slug", flat=True)
    )
    organism = organisms[1] if len(organisms) > 1 else (organisms[0] if organisms else "none")
    top_modality = (
        Dataset.objects.exclude(modality="").values("modality").annotate(n=Count("id")).order_by("-n").first()
    )
    modality = top_modality["modality"] if top_modality else "fib-sem"
    slugs = list(Dataset.objects.order_by("pk").values_list("slug", flat=True))
    numbers = list(Crop.objects.order_by("number").values_list("number", flat=True))
    top_class = (
        CropContent.objects.filter(present_voxels__gt=0)
        .values("label_class__name")
        .annotate(n=Count("crop_id"))
        .order_by("-n", "label_class__name")
        .first()
    )
    return Samples(
        organism=organism,
        modality=modality,
        search=search,
        dataset_slugs=rng.sample(slugs, k=min(ROTATION, len(slugs))),
        crop_numbers=rng.sample(numbers, k=min(ROTATION, len(numbers))),
        crop_class=top_class["label_class__name"] if top_class else "mito_mem",
    )
