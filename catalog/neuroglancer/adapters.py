"""Catalog records -> the Neuroglancer recipe's plain inputs, and the states built from them.

Reads model instances with the queries needed to fetch their related rows once, turns them
into ``recipe`` dataclasses, and calls the recipe. ``shown_state`` is THE answer to "can this
record make a state, and if not why": the state endpoints serve it, and ``viewer_facts``
runs it for whole datasets at write time so that pages and API lists read the outcome
(``viewer_problem``, ``inline_state_length``) from stored columns. Reads only: the write
paths (``catalog.indexing``) store what is computed here.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, QuerySet

from catalog.errors import CatalogError, ConflictError
from catalog.models import Crop, CuratedView, CuratedViewLayer, Dataset, Volume, VolumeChannel
from catalog.models.base import AXES, ContentType, VolumeKind, VolumeStatus
from catalog.neuroglancer import recipe as ng
from catalog.neuroglancer.links import s3_endpoint

logger = logging.getLogger(__name__)
RECIPE_ERRORS = (ValueError, TypeError, ArithmeticError, KeyError)
"""What odd catalog data could make the recipe raise; answered as a 409 with the reason, never a 500."""
PRIMARY_CONTENT = (ContentType.EM, ContentType.LM)


def _vector(obj: object, prefix: str) -> ng.Vec3 | None:
    values = tuple(getattr(obj, f"{prefix}_{axis}") for axis in AXES)
    if any(v is None for v in values):
        return None
    return tuple(float(v) for v in values)  # type: ignore[return-value]


def dataset_crops(dataset: Dataset) -> list[ng.CropInfo]:
    """The dataset's crops, geometry only (one query)."""
    return [crop_info(crop, with_classes=False) for crop in dataset.crops.order_by("number")]


def dataset_info(dataset: Dataset, crops: list[ng.CropInfo] | None = None) -> ng.DatasetInfo:
    """The dataset's geometry; without an extent, its first crop is what a state shows."""
    extent = _vector(dataset, "extent")
    focus = None
    if extent is None:
        crops = dataset_crops(dataset) if crops is None else crops
        if crops:
            focus = ng.crop_box(crops[0])
    return ng.DatasetInfo(
        slug=dataset.slug, title=dataset.title, voxel_size=_vector(dataset, "voxel_size"), extent=extent, focus=focus
    )


def volume_info(volume: Volume, *, related: bool = True) -> ng.VolumeInfo:
    """The recipe's view of a volume, built here and nowhere else.

    With ``related`` (the default) it expects ``volumes_for_viewer()`` prefetching, else it costs
    a few queries; without, channels, segment labels and meshes are left out, which costs no
    query and is enough to decide whether the volume can be shown at all.
    """
    label_class = volume.label_class if related else None
    return ng.VolumeInfo(
        id=volume.pk,
        name=volume.name,
        url=volume.url,
        format=volume.format,
        kind=volume.kind,
        content_type=volume.content_type,
        dtype=volume.dtype,
        axes=volume.axes,
        shape=_vector(volume, "shape"),
        scale=_vector(volume, "scale"),
        translation=_vector(volume, "translation"),
        contrast_min=volume.contrast_min,
        contrast_max=volume.contrast_max,
        contrast_start=volume.contrast_start,
        contrast_end=volume.contrast_end,
        display_colour=volume.display_colour,
        invert_lut=volume.invert_lut,
        label_class=label_class.name if label_class else "",
        label_class_colour=label_class.colour if label_class else "",
        catalog_problem=catalog_problem(volume),
        channels=tuple(ng.ChannelInfo(c.index, c.name, c.colour) for c in volume.channels.all()) if related else (),
        segment_labels=tuple(
            ng.SegmentLabelInfo(s.value, s.name, s.colour or (s.label_class.colour if s.label_class else ""))
            for s in volume.segment_labels.all()
        )
        if related
        else (),
        meshes=tuple(
            ng.MeshInfo(
                name=m.name,
                url=m.url,
                format=m.format,
                scale=(m.scale_x, m.scale_y, m.scale_z),
                translation=(m.translation_x, m.translation_y, m.translation_z),
                segment_ids=tuple(int(i) for i in (m.segment_ids or []) if str(i).isdigit()),
            )
            for m in volume.meshes.all()
        )
        if related
        else (),
    )


def catalog_problem(volume: Volume) -> tuple[str, str] | None:
    """What the catalog already knows keeps a volume from the viewer: ingest found its
    metadata broken (status invalid) or its data gone (status missing)."""
    if volume.status == VolumeStatus.INVALID:
        for error in volume.validation_errors or []:
            if isinstance(error, dict) and error.get("message"):
                return str(error.get("field") or "status"), f"The volume is invalid: {error['message']}"
        return "status", "The volume is marked invalid."
    if volume.status == VolumeStatus.MISSING:
        return "url", "The volume's data was not found at its storage location when it was last ingested."
    return None


def volumes_for_viewer(queryset: QuerySet[Volume] | None = None) -> QuerySet[Volume]:
    """Volumes with everything a layer needs, fetched in a fixed number of queries."""
    queryset = Volume.objects.all() if queryset is None else queryset
    return queryset.select_related("label_class").prefetch_related(
        Prefetch("channels", queryset=VolumeChannel.objects.order_by("index")),
        "segment_labels__label_class",
        "meshes",
    )


def crop_info(crop: Crop, *, with_classes: bool = True) -> ng.CropInfo:
    return ng.CropInfo(
        number=crop.number,
        voxel_size=(crop.voxel_size_x, crop.voxel_size_y, crop.voxel_size_z),
        translation=(crop.translation_x, crop.translation_y, crop.translation_z),
        shape=(crop.shape_x, crop.shape_y, crop.shape_z),
        labels_url=crop.labels_url,
        label_classes=tuple(
            ng.LabelClassInfo(c.name, c.label_id, c.colour)
            for c in sorted(crop.label_classes.all(), key=lambda c: (c.label_id is None, c.label_id or 0, c.name))
        )
        if with_classes
        else (),
    )


def curated_view_info(view: CuratedView) -> ng.CuratedViewInfo:
    orientation = view.orientation if isinstance(view.orientation, list) else None
    return ng.CuratedViewInfo(
        name=view.name, position=_vector(view, "position"), scale=view.scale, orientation=orientation
    )


def _infos(volumes: Iterable[Volume]) -> list[ng.VolumeInfo]:
    return [volume_info(v) for v in volumes]


def shown_state(what: str, build: Callable[..., ng.StateResult | dict], *args: Any, **kwargs: Any) -> dict:
    """``build(*args, **kwargs)``: the state a record's endpoint serves, or the ``CatalogError`` (409) saying
    why there is none: a volume Neuroglancer cannot read, a state with no layer, data the recipe
    chokes on."""
    try:
        result = build(*args, **kwargs)
    except CatalogError:
        raise
    except RECIPE_ERRORS as error:
        logger.exception("No Neuroglancer state can be made for a %s", what)
        raise ConflictError(f"No viewer state can be made from this record: {error}") from error
    return result.shown(what) if isinstance(result, ng.StateResult) else result


def build_volume_state(volume: Volume) -> dict:
    """The volume's own state; raises ``NotViewableError`` with the reason when there is none."""
    return ng.volume_state(dataset_info(volume.dataset), volume_info(volume), s3_endpoint())


def build_dataset_state(dataset: Dataset) -> ng.StateResult:
    volumes = list(volumes_for_viewer(dataset.volumes.all()))
    crops = dataset_crops(dataset)
    return ng.dataset_state(dataset_info(dataset, crops), _infos(volumes), s3_endpoint(), crops)


def build_custom_state(dataset: Dataset, volumes: Sequence[Volume]) -> ng.StateResult:
    return ng.custom_state(dataset_info(dataset), _infos(volumes), s3_endpoint())


def _view_volumes(view: CuratedView, by_id: dict[int, Volume]) -> list[Volume]:
    """The view's volumes in layer order, once each; names that match no volume are skipped."""
    layer_volume_ids = [layer.volume_id for layer in view.layers.all() if layer.volume_id is not None]
    return [by_id[pk] for pk in dict.fromkeys(layer_volume_ids) if pk in by_id]


def build_curated_view_state(view: CuratedView) -> ng.StateResult:
    """Layers in the view's order; names that match no volume are skipped (recorded at load)."""
    layer_volume_ids = [layer.volume_id for layer in view.layers.all() if layer.volume_id is not None]
    by_id = {v.pk: v for v in volumes_for_viewer(Volume.objects.filter(pk__in=layer_volume_ids))}
    return ng.curated_view_state(
        dataset_info(view.dataset), curated_view_info(view), _infos(_view_volumes(view, by_id)), s3_endpoint()
    )


def _container(url: str) -> str:
    """``s3://bucket/ds/ds.zarr`` of ``s3://bucket/ds/ds.zarr/recon-1/...``: the store a path lives in."""
    for suffix in (".zarr", ".n5"):
        if suffix in url:
            return url.split(suffix, 1)[0] + suffix
    return url


def _preferred_images(images: Iterable[Volume], near: str = "") -> list[Volume]:
    """EM/LM images in order of preference: those in the same store as ``near`` (a crop's
    labels, so both come from one pipeline and align), then 8-bit ones, then by name."""
    store = _container(near) if near else None

    def preference(volume: Volume) -> tuple[bool, bool, str]:
        eight_bit = volume.dtype == "uint8" or "uint8" in volume.name
        return (store is None or _container(volume.url) != store, not eight_bit, volume.name)

    return sorted(images, key=preference)


def primary_images(dataset: Dataset, near: str = "") -> list[Volume]:
    """The dataset's EM/LM images, preferred ones first (``_preferred_images``)."""
    queryset = dataset.volumes.filter(kind=VolumeKind.IMAGE, content_type__in=PRIMARY_CONTENT)
    return _preferred_images(volumes_for_viewer(queryset), near)


def _crop_result(
    dataset: ng.DatasetInfo,
    crop: ng.CropInfo,
    images: Sequence[ng.VolumeInfo],
    *,
    checked: bool = True,
    prediction: ng.PredictionInfo | None = None,
) -> ng.StateResult:
    """The crop's state over the first of ``images`` (in preference order) Neuroglancer can read."""
    viewable = []
    for info in images:
        try:
            ng.check_volume(info, s3_endpoint())
        except ng.NotViewableError:
            continue
        viewable.append(info)
    return ng.crop_state(dataset, crop, viewable[:1], s3_endpoint(), checked=checked, prediction=prediction)


def build_crop_state(crop: Crop, prediction: ng.PredictionInfo | None = None) -> ng.StateResult:
    images = primary_images(crop.dataset, near=crop.labels_url)
    return _crop_result(dataset_info(crop.dataset), crop_info(crop), _infos(images), prediction=prediction)


# Stored outcomes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewerFacts:
    """What a record's state endpoint answers, kept on the record (``catalog.indexing``): the
    reason there is no state (blank when there is one), and the length of the state's inline
    fragment, so a link is never offered that the endpoint would refuse."""

    problem_field: str = ""
    problem: str = ""
    inline_length: int | None = None


def problem_of(error: CatalogError) -> tuple[str, str]:
    """(field, message) of a refusal: the field it names, the detail the endpoint answers."""
    named = getattr(error, "field", "") or (error.errors[0].get("field", "") if error.errors else "")
    return named or "state", error.detail


def facts_of(what: str, build: Callable[..., ng.StateResult | dict], *args: Any) -> ViewerFacts:
    """The outcome of ``shown_state(what, build, *args)``, measured without the validating parse."""
    try:
        state = shown_state(what, build, *args, checked=False)
    except CatalogError as error:
        field_name, message = problem_of(error)
        return ViewerFacts(problem_field=field_name, problem=message)
    return ViewerFacts(inline_length=ng.inline_fragment_length(state))


@dataclass
class CatalogFacts:
    """The facts of every dataset, volume, crop and view of some datasets, with their records."""

    datasets: list[tuple[Dataset, ViewerFacts]] = field(default_factory=list)
    volumes: list[tuple[Volume, ViewerFacts]] = field(default_factory=list)
    crops: list[tuple[Crop, ViewerFacts]] = field(default_factory=list)
    views: list[tuple[CuratedView, ViewerFacts]] = field(default_factory=list)


def viewer_facts(dataset_ids: Sequence[int]) -> CatalogFacts:
    """Build, for the given datasets, every state their endpoints would serve (the same recipe
    calls as ``build_*_state``, from rows fetched in a fixed number of queries) and keep only
    the outcome of each."""
    datasets = list(Dataset.objects.filter(pk__in=dataset_ids).defer("search_vector", "search_text"))
    volumes_of: dict[int, list[Volume]] = defaultdict(list)
    for volume in volumes_for_viewer(Volume.objects.filter(dataset_id__in=dataset_ids)):
        volumes_of[volume.dataset_id].append(volume)
    crops_of: dict[int, list[Crop]] = defaultdict(list)
    for crop in Crop.objects.filter(dataset_id__in=dataset_ids).prefetch_related("label_classes").order_by("number"):
        crops_of[crop.dataset_id].append(crop)
    views_of: dict[int, list[CuratedView]] = defaultdict(list)
    layers = Prefetch("layers", queryset=CuratedViewLayer.objects.only("id", "view_id", "position", "volume_id"))
    for view in CuratedView.objects.filter(dataset_id__in=dataset_ids).prefetch_related(layers):
        views_of[view.dataset_id].append(view)
    by_id = {volume.pk: volume for volumes in volumes_of.values() for volume in volumes}
    elsewhere = {
        layer.volume_id
        for views in views_of.values()
        for view in views
        for layer in view.layers.all()
        if layer.volume_id is not None and layer.volume_id not in by_id
    }
    if elsewhere:
        by_id.update((v.pk, v) for v in volumes_for_viewer(Volume.objects.filter(pk__in=elsewhere)))

    facts = CatalogFacts()
    endpoint = s3_endpoint()
    for dataset in datasets:
        volumes = volumes_of.get(dataset.pk, [])
        infos = {volume.pk: volume_info(volume) for volume in volumes}
        geometry = [crop_info(crop, with_classes=False) for crop in crops_of.get(dataset.pk, [])]
        info = dataset_info(dataset, geometry)
        facts.datasets.append(
            (dataset, facts_of("dataset", ng.dataset_state, info, list(infos.values()), endpoint, geometry))
        )
        for volume in volumes:
            facts.volumes.append((volume, facts_of("volume", ng.volume_state, info, infos[volume.pk], endpoint)))
        images = [v for v in volumes if v.kind == VolumeKind.IMAGE and v.content_type in PRIMARY_CONTENT]
        for crop in crops_of.get(dataset.pk, []):
            preferred = [infos[v.pk] for v in _preferred_images(images, near=crop.labels_url)]
            facts.crops.append((crop, facts_of("crop", _crop_result, info, crop_info(crop), preferred)))
        for view in views_of.get(dataset.pk, []):
            members = [infos.get(v.pk) or volume_info(v) for v in _view_volumes(view, by_id)]
            built = facts_of("view", ng.curated_view_state, info, curated_view_info(view), members, endpoint)
            facts.views.append((view, built))
    return facts
