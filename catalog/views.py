"""Server-rendered browse pages.

Each page fetches what it shows in a fixed number of queries (``Dataset.objects`` methods,
``catalog.selectors`` and prefetches named here), so its query count does not grow with the
catalog, and is served from the versioned cache until the catalog changes. Datasets and crops
are filtered by the same FilterSets as the REST API, facet counts come from ``catalog.facets``,
and "annotated with" means what it means everywhere: the ``DatasetClass`` closure. A viewer
button is a link only where the record's state endpoint answers with a state; elsewhere it is
disabled and the page says why, from the reason stored with the record (``catalog.indexing``).
Every page answers HEAD as it answers GET.
"""

from __future__ import annotations

import posixpath
import shlex
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from catalog import citations, downloads, freshness
from catalog.errors import InvalidRequestError
from catalog.facets import dataset_facets
from catalog.filters import CropFilterSet, DatasetFilterSet
from catalog.models import (
    BenchmarkResult,
    Crop,
    CropContent,
    CuratedView,
    CuratedViewLayer,
    Dataset,
    LabelClass,
    Organism,
    SegmentLabel,
    Tissue,
    Volume,
    VolumeChannel,
)
from catalog.models.base import ContentType, VolumeFormat, VolumeStatus
from catalog.models.crops import crop_class_contents
from catalog.neuroglancer.links import Kind, record_links, viewer_base_url
from catalog.selectors import (
    annotated_classes,
    collection_queryset,
    crop_queryset,
    label_class_queryset,
    organism_queryset,
    tissue_queryset,
)

DATASETS_PER_PAGE = 24
CROPS_PER_PAGE = 50
PRESENT_CROPS_SHOWN = 100
NEWEST_ON_HOME = 8
OPEN_GROUP_SIZE = 12
FEATURED_COLLECTIONS = ("p7-mouse-tissue", "cellmap-segmentation-challenge")
ZARR_FORMATS = {VolumeFormat.OME_ZARR_04, VolumeFormat.OME_ZARR_05, VolumeFormat.ZARR_V2, VolumeFormat.ZARR_V3}
# The order in which a dataset page lists its volumes: raw data first, derived data after.
CONTENT_TYPE_ORDER = [
    ContentType.EM,
    ContentType.LM,
    ContentType.SEGMENTATION,
    ContentType.PREDICTION,
    ContentType.GROUND_TRUTH,
    ContentType.ANALYSIS,
]
# Sort options of the browse page: (ordering parameter, label); "" keeps the FilterSet default.
SORT_OPTIONS = [
    ("title", "Title"),
    ("-release_date", "Newest release"),
    ("voxel_size", "Finest voxels first"),
    ("-volume_count", "Most volumes"),
    ("-crop_count", "Most crops"),
]
# Facets of the browse page: (facets key, query parameter, heading, several values allowed).
FACETS = [
    ("collection", "collection", "Collection", True),
    ("organism", "organism", "Organism", True),
    ("tissue", "tissue", "Tissue", True),
    ("modality", "modality", "Modality", True),
    ("organelle", "organelle", "Organelle", True),
    ("voxel_size", "voxel_size_max", "Voxel size", False),
    ("has_crops", "has_crops", "Annotated crops", False),
    ("fixation", "fixation", "Fixation", True),
]
HTMX_PARTIAL_HEADER = "HX-Request"
REMOTE_SCHEMES = ("s3", "gs", "http", "https")
FAVICON = settings.BASE_DIR / "static" / "favicon.ico"


def _filter_params(query: QueryDict) -> QueryDict:
    """The query string without blank values: an empty search box or "any" choice filters nothing."""
    params = QueryDict(mutable=True)
    for key, values in query.lists():
        kept = [value for value in values if value.strip()]
        if kept:
            params.setlist(key, kept)
    return params


def cached_per_catalog_version(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve a page's rendered bytes from the cache until the catalog changes.

    Pages hold nothing user-specific (no session data, no CSRF token: every form is a GET),
    so a page depends only on its URL, the htmx headers and the catalog, whose version every
    committed write bumps. Only 200 responses are stored; pages with a query string (searches,
    filters) for a short time, since most of them are asked once.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        identity = "|".join(
            (
                request.build_absolute_uri(),
                request.headers.get(HTMX_PARTIAL_HEADER, ""),
                request.headers.get("HX-History-Restore-Request", ""),
            )
        )
        cached = freshness.cache_get("page", identity)
        if cached is not freshness.MISSING:
            content, headers = cached
            response = HttpResponse(content)
            for name, value in headers.items():
                response[name] = value
            return response
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming:
            content = (response.content, dict(response.headers))
            freshness.cache_set("page", identity, content, query=bool(request.GET))
        return response

    return wrapper


def _is_htmx_fragment(request: HttpRequest) -> bool:
    """An htmx update asks for a fragment; a history restore needs the whole page."""
    return request.headers.get(HTMX_PARTIAL_HEADER) == "true" and not request.headers.get("HX-History-Restore-Request")


def _paginate(request: HttpRequest, items: QuerySet, per_page: int) -> Page:
    """The requested page; an out-of-range or malformed page number gives the nearest valid page."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def _link(request: HttpRequest, kind: Kind, objects: list[Any]) -> list[Any]:
    """Attach each record's Neuroglancer link, None when it has no state (its ``viewer_problem``
    then says why). No query: links are reversed URLs and stored facts."""
    for obj in objects:
        obj.neuroglancer_url = record_links(request, kind, obj)["neuroglancer_url"]
    return objects


def _citation(record: citations.CitationRecord) -> dict[str, str]:
    """A one-line reference to read, and BibTeX and RIS to copy into a reference manager.

    The year is the data's, "n.d." when none is known; every DOI is offered, the data's first.
    """
    year = f" ({record.published_year or citations.NO_DATE})"
    creators = ", ".join(creator.name for creator in record.creators)
    link = f"https://doi.org/{record.doi}" if record.doi else record.url
    others = "".join(f"; {other.label}: https://doi.org/{other.doi}" for other in record.other_dois)
    if creators:
        text = f"{creators}{year}. {record.title}. {record.publisher}. {link}{others}"
    else:
        text = f"{record.title}{year}. {record.publisher}. {link}{others}"
    return {"text": text, "bibtex": citations.bibtex(record), "ris": citations.ris(record)}


def _class_prefetch(lookup: str) -> Prefetch:
    """Label classes with what a chip shows (name, long name, colour)."""
    return Prefetch(lookup, queryset=LabelClass.objects.only("id", "name", "long_name", "colour", "label_id"))


def _contents_prefetch() -> Prefetch:
    return Prefetch("contents", queryset=CropContent.objects.order_by())


def _crops_with_classes() -> QuerySet[Crop]:
    """Crops with their dataset's slug and the classes their table rows show as chips (with
    colours and what the crop holds of each)."""
    return (
        crop_queryset().prefetch_related(None).prefetch_related(_class_prefetch("label_classes"), _contents_prefetch())
    )


def _with_contents(crops: list[Crop]) -> list[Crop]:
    """Attach each crop's classes in table order (present by share, absent, unknown) and
    whether none of them was ever counted. No query: uses the prefetched rows."""
    for crop in crops:
        crop.class_contents = crop_class_contents(crop)
        crop.counts_never_ingested = bool(crop.class_contents) and all(
            entry.row is None for entry in crop.class_contents
        )
    return crops


@require_safe
@cached_per_catalog_version
def home(request: HttpRequest) -> HttpResponse:
    """What the portal holds, the featured collections and the newest datasets."""
    counts = {
        "datasets": Dataset.objects.count(),
        "volumes": Volume.objects.count(),
        "crops": Crop.objects.count(),
        "organelles": LabelClass.objects.count(),
    }
    collections = sorted(
        collection_queryset().filter(slug__in=FEATURED_COLLECTIONS),
        key=lambda collection: FEATURED_COLLECTIONS.index(collection.slug),
    )
    newest = Dataset.objects.for_list().order_by("-release_date", "-id")[:NEWEST_ON_HOME]
    organisms = organism_queryset().filter(dataset_count__gt=0).order_by("-dataset_count", "name")
    tissues = tissue_queryset().filter(dataset_count__gt=0).order_by("-dataset_count", "name")
    context = {
        "counts": counts,
        "collections": collections,
        "newest": newest,
        "organisms": organisms,
        "tissues": tissues,
    }
    return render(request, "catalog/home.html", context)


@dataclass
class ActiveFilter:
    """A chosen filter value and the URL of the same search without it."""

    label: str
    remove_url: str


def _facet_groups(facets: dict[str, Any]) -> list[dict[str, Any]]:
    """Facets in display order with their parameter names; facets with no values are left out."""
    groups = []
    for key, parameter, heading, multiple in FACETS:
        values = facets.get(key) or []
        if any(item["count"] or item["selected"] for item in values):
            groups.append(
                {
                    "key": key,
                    "parameter": parameter,
                    "heading": heading,
                    "multiple": multiple,
                    "values": values,
                    "chosen": any(item["selected"] for item in values),
                }
            )
    return groups


def _active_filters(request: HttpRequest, params: QueryDict, groups: list[dict[str, Any]]) -> list[ActiveFilter]:
    """One removable chip per chosen value (and one for the search text)."""
    labels = {(group["parameter"], item["value"]): item["label"] for group in groups for item in group["values"]}
    active = []
    for parameter, values in params.lists():
        if parameter in ("page", "ordering", "layout"):
            continue
        for value in values:
            remaining = params.copy()
            remaining.setlist(parameter, [other for other in values if other != value])
            remaining.pop("page", None)
            label = f"“{value}”" if parameter == "q" else labels.get((parameter, value), value)
            active.append(ActiveFilter(label=label, remove_url=f"{request.path}?{remaining.urlencode()}"))
    return active


@vary_on_headers(HTMX_PARTIAL_HEADER)
@require_safe
@cached_per_catalog_version
def dataset_list(request: HttpRequest) -> HttpResponse:
    """Search and facets over datasets; htmx swaps in the results, every state is a plain URL."""
    params = _filter_params(request.GET)
    filterset = DatasetFilterSet(params, queryset=Dataset.objects.for_list())
    status = 200
    if filterset.is_valid():
        datasets = filterset.qs
        facets = dataset_facets(filterset)
        errors: dict[str, list[str]] = {}
    else:
        status = 400
        errors = {name: list(messages) for name, messages in filterset.errors.items()}
        datasets = filterset.queryset.none()
        facets = dataset_facets(DatasetFilterSet(QueryDict(), queryset=Dataset.objects.for_list()))
    page = _paginate(request, datasets, DATASETS_PER_PAGE)
    groups = _facet_groups(facets)
    context = {
        "page": page,
        "facet_groups": groups,
        "errors": errors,
        "q": params.get("q", ""),
        "ordering": params.get("ordering", ""),
        "layout": "list" if params.get("layout") == "list" else "grid",
        "sort_options": SORT_OPTIONS,
        "active_filters": _active_filters(request, params, groups),
    }
    template = "catalog/partials/dataset_results.html" if _is_htmx_fragment(request) else "catalog/dataset_list.html"
    return render(request, template, context, status=status)


@require_safe
@cached_per_catalog_version
def organelle_list(request: HttpRequest) -> HttpResponse:
    """Every label class, groups apart from the structures they are made of."""
    classes = list(label_class_queryset())
    structures = [label_class for label_class in classes if not label_class.members.all()]
    groups = [label_class for label_class in classes if label_class.members.all()]
    return render(request, "catalog/organelle_list.html", {"structures": structures, "groups": groups})


@require_safe
@cached_per_catalog_version
def organelle_detail(request: HttpRequest, name: str) -> HttpResponse:
    """One label class: what it is, what it is part of and made of, where it is annotated.

    A group's page lists data annotated with any of its members, as the organelle filter does.
    """
    label_class = get_object_or_404(
        LabelClass.objects.prefetch_related(_class_prefetch("members"), _class_prefetch("member_of")), name=name
    )
    params = QueryDict(mutable=True)
    params["organelle"] = label_class.name
    datasets = DatasetFilterSet(params, queryset=Dataset.objects.for_list()).qs
    crops = CropFilterSet(params, queryset=_crops_with_classes().order_by("number")).qs
    crop_page = _paginate(request, crops, CROPS_PER_PAGE)
    crop_page.object_list = _with_contents(_link(request, "crop", list(crop_page.object_list)))
    present_rows = list(
        CropContent.objects.filter(label_class=label_class, present_voxels__gt=0)
        .select_related("crop__dataset")
        .order_by("-present_share", "crop__number")[:PRESENT_CROPS_SHOWN]
    )
    present_total = len(present_rows)
    if present_total == PRESENT_CROPS_SHOWN:
        present_total = CropContent.objects.filter(label_class=label_class, present_voxels__gt=0).count()
    counted = 0
    if not present_rows:
        counted = CropContent.objects.filter(label_class=label_class).exclude(source=CropContent.Source.UNKNOWN).count()
    return render(
        request,
        "catalog/organelle_detail.html",
        {
            "label_class": label_class,
            "datasets": list(datasets),
            "crop_page": crop_page,
            "highlight": {label_class.name, *(member.name for member in label_class.members.all())},
            "present_rows": present_rows,
            "present_total": present_total,
            "counted_crops": counted,
            "present_query": urlencode({"organelle": label_class.name, "present": "true", "ordering": "-share"}),
        },
    )


@require_safe
@cached_per_catalog_version
def crop_detail(request: HttpRequest, number: int) -> HttpResponse:
    """One crop: its geometry and what it holds of each annotated class (present first)."""
    crop = get_object_or_404(
        Crop.objects.select_related("dataset").prefetch_related(_class_prefetch("label_classes"), _contents_prefetch()),
        number=number,
    )
    _with_contents(_link(request, "crop", [crop]))
    padding_error = ""
    try:
        padding = downloads.parse_padding(request.GET.get("padding_nm"))
    except InvalidRequestError as error:
        padding, padding_error = 0.0, error.detail
    plan = downloads.plan_crop(crop, padding)
    manifest = citations.canonical_url(reverse("crop-manifest-csv")) + f"?number={crop.number}"
    context = {
        "crop": crop,
        "highlight": set(),
        "download": plan,
        "commands": downloads.crop_commands(plan, manifest),
        "padding_error": padding_error,
        "state_url": reverse("state-crop", args=[crop.number]),
    }
    return render(request, "catalog/crop_detail.html", context)


@require_safe
@cached_per_catalog_version
def volume_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One volume: what it is, and getting it, size first (from the chunk grid ingest stored)."""
    volume = get_object_or_404(Volume.objects.select_related("dataset", "label_class"), pk=pk)
    _link(request, "volume", [volume])
    sizes = downloads.level_sizes(volume)
    s3 = volume.url.startswith("s3://")
    context = {
        "volume": volume,
        "sizes": sizes,
        "total_objects": sum(size.objects for size in sizes),
        "total_bytes": sum(size.bytes for size in sizes) if sizes and all(s.bytes is not None for s in sizes) else None,
        "copy_command": _copy_command(volume) if s3 else "",
        "level_commands": [(size, downloads.level_command(volume, size)) for size in sizes] if s3 else [],
        "python_snippet": _python_snippet(volume) if s3 and volume.format in ZARR_FORMATS else "",
        "status_reason": _status_reason(volume),
    }
    return render(request, "catalog/volume_detail.html", context)


@require_safe
@cached_per_catalog_version
def collection_list(request: HttpRequest) -> HttpResponse:
    """Every collection with its summary and the number of datasets it groups."""
    return render(request, "catalog/collection_list.html", {"collections": collection_queryset()})


@require_safe
@cached_per_catalog_version
def tissue_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The datasets of one tissue."""
    tissue = get_object_or_404(Tissue, slug=slug)
    datasets = Dataset.objects.for_list().filter(tissues=tissue)
    return render(request, "catalog/term_detail.html", {"term": tissue, "kind": "tissue", "datasets": list(datasets)})


@require_safe
@cached_per_catalog_version
def organism_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The datasets of one organism."""
    organism = get_object_or_404(Organism, slug=slug)
    datasets = Dataset.objects.for_list().filter(organism=organism)
    return render(
        request, "catalog/term_detail.html", {"term": organism, "kind": "organism", "datasets": list(datasets)}
    )


def _s3_prefix(urls: list[str], slug: str) -> str:
    """Where a dataset's files live in S3: ``s3://bucket/<slug>/`` when its volumes sit under a
    folder named after it, else the deepest folder its S3 volume URLs share."""
    paths = [url.removeprefix("s3://").rstrip("/") for url in urls if url.startswith("s3://")]
    if not paths:
        return ""
    for path in paths:
        bucket, _, key = path.partition("/")
        if key.startswith(f"{slug}/"):
            return f"s3://{bucket}/{slug}/"
    common = posixpath.commonpath(paths)
    if len(paths) == 1 or common in paths:
        common = posixpath.dirname(common)
    return f"s3://{common}/" if common else ""


def _python_snippet(volume: Volume) -> str:
    """Python that opens a Zarr volume anonymously and reads its full-resolution array."""
    lines = [
        "import zarr  # pip install zarr s3fs",
        "",
        f'url = "{volume.url}"',
    ]
    if volume.format in (VolumeFormat.OME_ZARR_04, VolumeFormat.OME_ZARR_05):
        attrs = 'group.attrs["ome"]' if volume.format == VolumeFormat.OME_ZARR_05 else "group.attrs"
        lines += [
            'group = zarr.open_group(url, mode="r", storage_options={"anon": True})',
            f'levels = {attrs}["multiscales"][0]["datasets"]',
            'array = group[levels[0]["path"]]  # full resolution; later levels are downsampled',
        ]
    else:
        lines.append('array = zarr.open_array(url, mode="r", storage_options={"anon": True})')
    lines.append("print(array.shape, array.dtype)")
    return "\n".join(lines)


def _copy_command(volume: Volume) -> str:
    """The AWS CLI command that copies one S3 volume (every level) into a folder of its name."""
    return f"aws s3 cp --no-sign-request --recursive {volume.url} ./{posixpath.basename(volume.url.rstrip('/'))}"


def _grouped_volumes(volumes: list[Volume]) -> list[dict[str, Any]]:
    """Volumes by content type, in reading order (EM and LM first); empty groups left out.

    Columns that no volume of a group fills are dropped, and long groups of derived data
    start folded so the raw data and the other groups stay in sight.
    """
    groups: OrderedDict[str, list[Volume]] = OrderedDict((value, []) for value in CONTENT_TYPE_ORDER)
    for volume in volumes:
        groups.setdefault(volume.content_type, []).append(volume)
    return [
        {
            "label": ContentType(value).label,
            "volumes": members,
            "show_class": any(volume.label_class_id for volume in members),
            "show_scale": any(volume.scale_x is not None for volume in members),
            "show_shape": any(volume.shape_x is not None for volume in members),
            "open": value in (ContentType.EM, ContentType.LM) or len(members) <= OPEN_GROUP_SIZE,
        }
        for value, members in groups.items()
        if members
    ]


def _status_reason(volume: Volume) -> str:
    """Why a volume's status is not ok, for its badge: ingest's findings, or that its data is gone."""
    if volume.status == VolumeStatus.INVALID:
        problems = [
            f"{error['field']}: {error['message']}" if error.get("field") else str(error["message"])
            for error in volume.validation_errors or []
            if isinstance(error, dict) and error.get("message")
        ]
        return "; ".join(problems) or "Its metadata could not be read."
    if volume.status == VolumeStatus.MISSING:
        return "Its data was not found at its storage location when it was last ingested."
    return ""


def _segment_label_sets(volumes: list[Volume]) -> list[dict[str, Any]]:
    """The semantic classes of a dataset's segmentations (their segment labels), each distinct
    list once with the volumes it labels: platelet-em's seven classes, shared by two volumes."""
    sets: dict[tuple, dict[str, Any]] = {}
    for volume in volumes:
        labels = list(volume.segment_labels.all())
        if not labels:
            continue
        for label in labels:
            label.shown_colour = label.colour or (label.label_class.colour if label.label_class else "")
        key = tuple((label.value, label.name, label.colour, label.label_class_id) for label in labels)
        sets.setdefault(key, {"labels": labels, "volumes": []})["volumes"].append(volume.name)
    return list(sets.values())


def _access(dataset: Dataset, volumes: list[Volume]) -> dict[str, Any]:
    """Where the data is, as the catalog knows it: an S3 prefix, other remote locations, a
    download archive (and the files in it), and the volumes whose location is not published."""
    remote = [v for v in volumes if urlsplit(v.url).scheme in REMOTE_SCHEMES and not v.url.startswith("s3://")]
    local = [v for v in volumes if urlsplit(v.url).scheme not in REMOTE_SCHEMES]
    in_archive = [v for v in local if v.url] if dataset.download_url else []
    s3_prefix = _s3_prefix([volume.url for volume in volumes], dataset.slug)
    return {
        "s3_prefix": s3_prefix,
        "remote_volumes": remote,
        "archive_files": [volume.url for volume in in_archive],
        "unpublished_volumes": [v for v in local if v not in in_archive],
        "published": bool(s3_prefix or remote or dataset.download_url),
    }


def _main_volume(volumes: list[Volume]) -> Volume | None:
    """The volume the access instructions point at: a raw image in S3, Zarr first (Python reads it)."""
    candidates = [volume for volume in volumes if urlsplit(volume.url).scheme in REMOTE_SCHEMES]
    candidates.sort(
        key=lambda volume: (
            volume.content_type not in (ContentType.EM, ContentType.LM),
            not volume.url.startswith("s3://"),
            volume.format not in ZARR_FORMATS,
            volume.name,
        )
    )
    return candidates[0] if candidates else None


@require_safe
@cached_per_catalog_version
def dataset_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Everything about one dataset, with a way into the viewer for each part of it."""
    dataset = get_object_or_404(
        Dataset.objects.for_citation()
        .defer("search_vector", "search_text")
        .with_image_thumbnail()
        .prefetch_related(
            "cell_types",
            "treatments",
            Prefetch(
                "volumes",
                queryset=Volume.objects.select_related("label_class")
                .prefetch_related(
                    Prefetch("channels", queryset=VolumeChannel.objects.order_by("index")),
                    Prefetch("segment_labels", queryset=SegmentLabel.objects.select_related("label_class")),
                )
                .order_by("name"),
                to_attr="volume_list",
            ),
            Prefetch(
                "views",
                queryset=CuratedView.objects.prefetch_related(
                    Prefetch("layers", queryset=CuratedViewLayer.objects.order_by("position")),
                    _class_prefetch("organelles"),
                ),
                to_attr="view_list",
            ),
            Prefetch(
                "crops",
                queryset=Crop.objects.prefetch_related(_class_prefetch("label_classes"), _contents_prefetch()).order_by(
                    "number"
                ),
                to_attr="crop_list",
            ),
            Prefetch(
                "benchmark_results",
                queryset=BenchmarkResult.objects.select_related("label_class"),
                to_attr="benchmark_list",
            ),
        ),
        slug=slug,
    )
    record = citations.dataset_record(
        dataset,
        url=citations.canonical_url(reverse("catalog:dataset-detail", args=[dataset.slug])),
        publisher=settings.CITATION_PUBLISHER,
    )
    volumes = _link(request, "volume", dataset.volume_list)
    for volume in volumes:
        volume.status_reason = _status_reason(volume)
    main_volume = _main_volume(volumes)
    context: dict[str, Any] = {
        "dataset": dataset,
        "dataset_links": record_links(request, "dataset", dataset),
        "citation": _citation(record),
        "jsonld": citations.dataset_jsonld(dataset, record),
        "volume_groups": _grouped_volumes(volumes),
        "volume_count": len(volumes),
        "views": _link(request, "view", dataset.view_list),
        "crops": _with_contents(_link(request, "crop", dataset.crop_list)),
        "organelles": list(annotated_classes(dataset)),
        "benchmarks": dataset.benchmark_list,
        "dois": list(dataset.dataset_dois.all()),
        "publications": list(dataset.publications.all()),
        "segment_label_sets": _segment_label_sets(volumes),
        "any_viewable_volume": any(not volume.viewer_problem for volume in volumes),
        "access": _access(dataset, volumes),
        "main_volume": main_volume,
        "main_sizes": downloads.level_sizes(main_volume) if main_volume else [],
        "crop_manifest_command": f"curl -o {dataset.slug}_crops.csv "
        + shlex.quote(citations.canonical_url(reverse("crop-manifest-csv")) + f"?dataset={dataset.slug}")
        if dataset.crop_list
        else "",
        "copy_command": _copy_command(main_volume) if main_volume and main_volume.url.startswith("s3://") else "",
        "python_snippet": _python_snippet(main_volume)
        if main_volume and main_volume.format in ZARR_FORMATS and main_volume.url.startswith("s3://")
        else "",
    }
    return render(request, "catalog/dataset_detail.html", context)


@require_safe
def dataset_open(request: HttpRequest, slug: str) -> HttpResponse:
    """The layer picker's target: open the ticked volumes of a dataset together in Neuroglancer.

    The picker is a plain GET form, so it works without JavaScript; the redirect lands on the
    viewer with the custom-state URL of exactly those volumes (ids of other datasets, and
    volumes Neuroglancer cannot open, are dropped).
    """
    dataset = get_object_or_404(Dataset.objects.only("id", "slug"), slug=slug)
    picked = {int(value) for value in request.GET.getlist("volumes") if value.isdigit()}
    owned = sorted(dataset.volumes.filter(pk__in=picked, viewer_problem="").values_list("pk", flat=True))
    if not owned:
        return HttpResponseRedirect(reverse("catalog:dataset-detail", args=[slug]) + "#layers")
    query = urlencode({"volumes": ",".join(str(pk) for pk in owned)})
    state_url = request.build_absolute_uri(f"{reverse('state-custom')}?{query}")
    return HttpResponseRedirect(f"{viewer_base_url(request)}#!{state_url}")


@require_safe
@cached_per_catalog_version
def collection_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A collection's text, DOI and datasets, and the crops of its datasets filtered by CropFilterSet."""
    collection = get_object_or_404(collection_queryset(detail=True), slug=slug)
    datasets = list(Dataset.objects.for_list().filter(collections=collection))
    _link(request, "dataset", datasets)
    crop_total = sum(dataset.crop_count for dataset in datasets)
    record = citations.collection_record(
        collection,
        url=citations.canonical_url(reverse("catalog:collection-detail", args=[collection.slug])),
        publisher=settings.CITATION_PUBLISHER,
    )
    dataset_urls = {
        dataset.slug: citations.canonical_url(reverse("catalog:dataset-detail", args=[dataset.slug]))
        for dataset in datasets
    }
    context: dict[str, Any] = {
        "collection": collection,
        "datasets": datasets,
        "crop_total": crop_total,
        "citation": _citation(record),
        "jsonld": citations.collection_jsonld(collection, record, dataset_urls),
    }
    if crop_total:
        params = _filter_params(request.GET)
        crops = (
            Crop.objects.filter(dataset__collections=collection)
            .select_related("dataset")
            .prefetch_related(_class_prefetch("label_classes"), _contents_prefetch())
        )
        filterset = CropFilterSet(params, queryset=crops.order_by("number"))
        valid = filterset.is_valid()
        page = _paginate(request, filterset.qs if valid else crops.none(), CROPS_PER_PAGE)
        page.object_list = _with_contents(_link(request, "crop", list(page.object_list)))
        context.update(
            crop_page=page,
            crop_errors={} if valid else {name: list(messages) for name, messages in filterset.errors.items()},
            crop_params={key: params.get(key, "") for key in ("dataset", "organelle", "split", "present", "ordering")},
            highlight={params.get("organelle")} if params.get("organelle") else set(),
            crop_classes=LabelClass.objects.filter(crops__dataset__collections=collection)
            .distinct()
            .order_by("name")
            .only("id", "name", "long_name"),
        )
    return render(request, "catalog/collection_detail.html", context)


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """The portal's icon at the address browsers ask for, from our own static files."""
    response = HttpResponse(FAVICON.read_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
