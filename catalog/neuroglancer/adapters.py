"""Catalog records -> the Neuroglancer recipe's plain inputs, and the states built from them.

Reads model instances with the queries needed to fetch their related rows once, turns them
into ``recipe`` dataclasses, and calls the recipe. Reads only: a volume's viewer problem is
computed here but stored by the write paths (``catalog.indexing``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db.models import Prefetch, QuerySet

from catalog.models import Crop, CuratedView, Dataset, Volume, VolumeChannel
from catalog.models.base import AXES, VolumeStatus
from catalog.neuroglancer import recipe as ng
from catalog.neuroglancer.links import s3_endpoint


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


def viewer_problem(volume: Volume) -> ng.NotViewableError | None:
    """Why this volume cannot be opened in Neuroglancer, or None: the check the states make,
    on the volume's own columns (no query), for the write paths to store on the volume."""
    try:
        ng.check_volume(volume_info(volume, related=False), s3_endpoint())
    except ng.NotViewableError as error:
        return error
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


def build_volume_state(volume: Volume) -> dict:
    """The volume's own state; raises ``NotViewableError`` with the reason when there is none."""
    return ng.volume_state(dataset_info(volume.dataset), volume_info(volume), s3_endpoint())


def build_dataset_state(dataset: Dataset) -> ng.StateResult:
    volumes = list(volumes_for_viewer(dataset.volumes.all()))
    crops = dataset_crops(dataset)
    return ng.dataset_state(dataset_info(dataset, crops), _infos(volumes), s3_endpoint(), crops)


def build_custom_state(dataset: Dataset, volumes: Sequence[Volume]) -> ng.StateResult:
    return ng.custom_state(dataset_info(dataset), _infos(volumes), s3_endpoint())


def build_curated_view_state(view: CuratedView) -> ng.StateResult:
    """Layers in the view's order; names that match no volume are skipped (recorded at load)."""
    layer_volume_ids = [layer.volume_id for layer in view.layers.all() if layer.volume_id is not None]
    by_id = {v.pk: v for v in volumes_for_viewer(Volume.objects.filter(pk__in=layer_volume_ids))}
    volumes = [by_id[pk] for pk in dict.fromkeys(layer_volume_ids) if pk in by_id]
    return ng.curated_view_state(dataset_info(view.dataset), curated_view_info(view), _infos(volumes), s3_endpoint())


def _container(url: str) -> str:
    """``s3://bucket/ds/ds.zarr`` of ``s3://bucket/ds/ds.zarr/recon-1/...``: the store a path lives in."""
    for suffix in (".zarr", ".n5"):
        if suffix in url:
            return url.split(suffix, 1)[0] + suffix
    return url


def primary_images(dataset: Dataset, near: str = "") -> list[Volume]:
    """The dataset's EM/LM images: those in the same store as ``near`` (a crop's labels, so
    both come from one pipeline and align), then 8-bit ones, then by name."""
    images = list(volumes_for_viewer(dataset.volumes.filter(kind="image", content_type__in=["em", "lm"])))
    store = _container(near) if near else None

    def preference(volume: Volume) -> tuple[bool, bool, str]:
        eight_bit = volume.dtype == "uint8" or "uint8" in volume.name
        return (store is None or _container(volume.url) != store, not eight_bit, volume.name)

    images.sort(key=preference)
    return images


def build_crop_state(crop: Crop) -> ng.StateResult:
    images = primary_images(crop.dataset, near=crop.labels_url)
    viewable = []
    for image in images:
        info = volume_info(image)
        try:
            ng.check_volume(info, s3_endpoint())
        except ng.NotViewableError:
            continue
        viewable.append(info)
    return ng.crop_state(dataset_info(crop.dataset), crop_info(crop), viewable[:1], s3_endpoint())
