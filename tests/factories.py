"""factory_boy factories for the catalog models, shared by every test module."""

import factory
from django.db import connection

from catalog import freshness, models
from catalog.models.base import ContentType, CropSplit, VolumeFormat, VolumeKind


class OrganismFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Organism
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Organism {n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-").replace(".", ""))


class TissueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Tissue
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Tissue {n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))


class LabelClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.LabelClass
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"class_{n}")
    label_id = factory.Sequence(lambda n: 1000 + n)
    long_name = factory.LazyAttribute(lambda o: o.name.replace("_", " "))


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Dataset

    slug = factory.Sequence(lambda n: f"jrc_test-{n}")
    title = factory.Sequence(lambda n: f"Test dataset {n}")
    description = "A HeLa cell imaged by FIB-SEM."
    organism = factory.SubFactory(OrganismFactory, name="Homo sapiens")
    modality = "fib-sem"
    voxel_size_x = 4.0
    voxel_size_y = 4.0
    voxel_size_z = 5.24


class VolumeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Volume

    dataset = factory.SubFactory(DatasetFactory)
    name = factory.Sequence(lambda n: f"volume-{n}")
    url = factory.LazyAttribute(lambda o: f"s3://test-bucket/{o.dataset.slug}/{o.dataset.slug}.zarr/{o.name}")
    format = VolumeFormat.OME_ZARR_04
    kind = VolumeKind.IMAGE
    content_type = ContentType.EM
    dtype = "uint8"
    axes = "zyx"
    shape_x = 100
    shape_y = 100
    shape_z = 100
    scale_x = 4.0
    scale_y = 4.0
    scale_z = 5.24
    translation_x = 0.0
    translation_y = 0.0
    translation_z = 0.0
    scale_levels = 3
    contrast_min = 0
    contrast_max = 255
    contrast_start = 100
    contrast_end = 200


class CropFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Crop

    number = factory.Sequence(lambda n: 1 + n)
    dataset = factory.SubFactory(DatasetFactory)
    split = CropSplit.TRAIN
    voxel_size_x = 2.0
    voxel_size_y = 2.0
    voxel_size_z = 2.0
    translation_x = 1000.0
    translation_y = 2000.0
    translation_z = 3000.0
    shape_x = 400
    shape_y = 400
    shape_z = 400
    labels_url = factory.LazyAttribute(
        lambda o: f"s3://test-bucket/{o.dataset.slug}/{o.dataset.slug}.zarr/recon-1/labels/groundtruth/crop{o.number}"
    )


class ViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CuratedView

    dataset = factory.SubFactory(DatasetFactory)
    name = factory.Sequence(lambda n: f"View {n}")
    position_x = 100.0
    position_y = 200.0
    position_z = 300.0
    orientation = [0.0, 1.0, 0.0, 0.0]


class CollectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Collection

    slug = factory.Sequence(lambda n: f"collection-{n}")
    title = factory.Sequence(lambda n: f"Collection {n}")


def commit_catalog() -> None:
    """Run the change hook of the test's open transaction now, as its commit would: derived rows
    (annotated classes, search texts, viewer problems) and a new catalog version. Tests run in
    one transaction that never commits, so fixtures that write records call this when done."""
    for _sids, callback, _robust in list(connection.run_on_commit):
        if isinstance(callback, freshness.PendingChanges) and not callback.done:
            callback()
