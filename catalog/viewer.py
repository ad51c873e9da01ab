"""Glue between the catalog's records and the Neuroglancer recipe in ``catalog.neuroglancer``.

Reads model instances (with the queries needed to fetch their related rows once), turns them
into the recipe's plain inputs, and builds the links that the API and the pages show. The
links cost no query: ``neuroglancer_links`` only reverses URLs and reads settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from catalog import neuroglancer as ng
from catalog.models import Crop, Dataset, View, Volume, VolumeChannel
from catalog.models.base import AXES

Kind = Literal["dataset", "volume", "crop", "view"]
STATE_URL_NAMES: dict[str, str] = {
    "dataset": "state-dataset",
    "volume": "state-volume",
    "crop": "state-crop",
    "view": "state-view",
}


def s3_endpoint() -> str:
    """The S3-compatible server sources are read from (blank: AWS itself)."""
    return getattr(settings, "AWS_ENDPOINT_URL_S3", "") or ""


def self_hosted_viewer_available() -> bool:
    """True when ``make viewer`` has built the Neuroglancer client into viewer/dist/."""
    dist = getattr(settings, "VIEWER_DIST_DIR", None)
    return dist is not None and (Path(dist) / "index.html").is_file()


def viewer_base_url(request: HttpRequest | None = None) -> str:
    """The Neuroglancer that links open: the setting, else our /neuroglancer/, else the public one."""
    configured = getattr(settings, "NEUROGLANCER_VIEWER_URL", "")
    if configured:
        return configured
    if self_hosted_viewer_available():
        path = reverse("neuroglancer-viewer")
        return request.build_absolute_uri(path) if request is not None else path
    return settings.PUBLIC_NEUROGLANCER_VIEWER_URL


def neuroglancer_links(request: HttpRequest | None, kind: Kind, key: str | int) -> dict[str, str]:
    """The state URL of a dataset (slug), volume (pk), crop (number) or view (pk) and the viewer
    link opening it; ``neuroglancer_inline_url`` redirects to the viewer with the state inline."""
    path = reverse(STATE_URL_NAMES[kind], args=[key])
    state_url = request.build_absolute_uri(path) if request is not None else path
    return {
        "neuroglancer_state_url": state_url,
        "neuroglancer_url": ng.viewer_url(viewer_base_url(request), state_url),
        "neuroglancer_inline_url": f"{state_url}?inline=1",
    }


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


def volume_info(volume: Volume) -> ng.VolumeInfo:
    """Expects ``volumes_for_viewer()`` prefetching; otherwise costs a few queries."""
    label_class = volume.label_class
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
        channels=tuple(ng.ChannelInfo(c.index, c.name, c.colour) for c in volume.channels.all()),
        segment_labels=tuple(
            ng.SegmentLabelInfo(s.value, s.name, s.colour or (s.label_class.colour if s.label_class else ""))
            for s in volume.segment_labels.all()
        ),
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
        ),
    )


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


def view_info(view: View) -> ng.ViewInfo:
    orientation = view.orientation if isinstance(view.orientation, list) else None
    return ng.ViewInfo(name=view.name, position=_vector(view, "position"), scale=view.scale, orientation=orientation)


def viewer_error(volume: Volume) -> ng.NotViewableError | None:
    """Why this volume cannot be opened in Neuroglancer, or None; costs no query."""
    info = ng.VolumeInfo(
        id=volume.pk,
        name=volume.name,
        url=volume.url,
        format=volume.format,
        kind=volume.kind,
        content_type=volume.content_type,
        shape=_vector(volume, "shape"),
        scale=_vector(volume, "scale"),
        translation=_vector(volume, "translation"),
        contrast_min=volume.contrast_min,
        contrast_max=volume.contrast_max,
        contrast_start=volume.contrast_start,
        contrast_end=volume.contrast_end,
    )
    try:
        ng.check_volume(info, s3_endpoint())
    except ng.NotViewableError as error:
        return error
    return None


def viewer_problem(volume: Volume) -> dict[str, str] | None:
    """Why this volume cannot be opened in Neuroglancer ({field, message}), or None.

    Costs no query (channels, meshes and labels do not decide it), so list pages and
    serializers can hide the viewer link of a TIFF without asking for its state.
    """
    error = viewer_error(volume)
    return None if error is None else error.as_error()


def _infos(volumes: Iterable[Volume]) -> list[ng.VolumeInfo]:
    return [volume_info(v) for v in volumes]


def build_volume_state(volume: Volume) -> dict:
    """The volume's own state; raises ``NotViewableError`` with the reason when there is none."""
    return ng.volume_state(dataset_info(volume.dataset), volume_info(volume), s3_endpoint())


def build_dataset_state(dataset: Dataset) -> tuple[ng.StateResult, dict[int, Volume]]:
    volumes = list(volumes_for_viewer(dataset.volumes.all()))
    crops = dataset_crops(dataset)
    result = ng.dataset_state(dataset_info(dataset, crops), _infos(volumes), s3_endpoint(), crops)
    return result, {v.pk: v for v in volumes}


def build_custom_state(dataset: Dataset, volumes: Sequence[Volume]) -> tuple[ng.StateResult, dict[int, Volume]]:
    result = ng.custom_state(dataset_info(dataset), _infos(volumes), s3_endpoint())
    return result, {v.pk: v for v in volumes}


def build_view_state(view: View) -> tuple[ng.StateResult, dict[int, Volume]]:
    """Layers in the view's order; names that match no volume are skipped (recorded at load)."""
    layer_volume_ids = [layer.volume_id for layer in view.layers.all() if layer.volume_id is not None]
    by_id = {v.pk: v for v in volumes_for_viewer(Volume.objects.filter(pk__in=layer_volume_ids))}
    volumes = [by_id[pk] for pk in dict.fromkeys(layer_volume_ids) if pk in by_id]
    result = ng.view_state(dataset_info(view.dataset), view_info(view), _infos(volumes), s3_endpoint())
    return result, by_id


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


def build_crop_state(crop: Crop) -> tuple[ng.StateResult, dict[int, Volume]]:
    images = primary_images(crop.dataset, near=crop.labels_url)
    viewable = []
    for image in images:
        info = volume_info(image)
        try:
            ng.check_volume(info, s3_endpoint())
        except ng.NotViewableError:
            continue
        viewable.append(info)
    result = ng.crop_state(dataset_info(crop.dataset), crop_info(crop), viewable[:1], s3_endpoint())
    return result, {v.pk: v for v in images}
