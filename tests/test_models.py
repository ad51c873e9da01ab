"""Database constraints: bad data cannot land even past the loader and the API."""

import pytest
from django.db import IntegrityError, transaction

from catalog import models as m
from tests.factories import (
    CropFactory,
    DatasetFactory,
    LabelClassFactory,
    OrganismFactory,
    TissueFactory,
    ViewFactory,
    VolumeFactory,
)

pytestmark = pytest.mark.django_db


def rejected(create) -> bool:
    """True when the database refuses the write."""
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


@pytest.mark.parametrize(
    ("label", "create"),
    [
        ("duplicate dataset slug", lambda: [DatasetFactory(slug="jrc_x"), DatasetFactory(slug="jrc_x")]),
        ("blank dataset slug", lambda: DatasetFactory(slug="")),
        ("negative voxel size", lambda: DatasetFactory(voxel_size_z=-5.24)),
        ("zero voxel size", lambda: DatasetFactory(voxel_size_x=0)),
        ("unknown modality", lambda: DatasetFactory(modality="x-ray")),
        ("unknown fixation", lambda: DatasetFactory(fixation="frozen")),
        ("zero scan rate", lambda: DatasetFactory(scan_rate_mhz=0)),
        ("zero volume scale", lambda: VolumeFactory(scale_y=0)),
        ("zero shape", lambda: VolumeFactory(shape_x=0)),
        ("unknown volume format", lambda: VolumeFactory(format="png")),
        ("unknown content type", lambda: VolumeFactory(content_type="photo")),
        ("unknown status", lambda: VolumeFactory(status="lost")),
        ("contrast min above max", lambda: VolumeFactory(contrast_min=300, contrast_max=255)),
        ("colour not hex", lambda: VolumeFactory(display_colour="red")),
        (
            "two volumes with one name",
            lambda: (lambda d: [VolumeFactory(dataset=d, name="em"), VolumeFactory(dataset=d, name="em")])(
                DatasetFactory()
            ),
        ),
        ("two volumes with one URL", lambda: [VolumeFactory(url="s3://b/k"), VolumeFactory(url="s3://b/k")]),
        ("duplicate crop number", lambda: [CropFactory(number=7), CropFactory(number=7)]),
        ("negative crop voxel size", lambda: CropFactory(voxel_size_y=-2)),
        ("zero crop shape", lambda: CropFactory(shape_z=0)),
        ("training crop without labels", lambda: CropFactory(split="train", labels_url="")),
        ("unknown split", lambda: CropFactory(split="validation")),
        ("view scale zero", lambda: ViewFactory(scale=0)),
        ("upper-case DOI", lambda: m.DOI.objects.create(value="10.25378/Janelia.1")),
        ("DOI with resolver prefix", lambda: m.DOI.objects.create(value="https://doi.org/10.25378/janelia.1")),
        ("not a DOI", lambda: m.DOI.objects.create(value="janelia.13469814")),
        ("bad UBERON id", lambda: TissueFactory(uberon_id="UBERON-0002107")),
        ("zero taxonomy id", lambda: OrganismFactory(ncbi_taxonomy_id=0)),
        ("duplicate class id", lambda: [LabelClassFactory(label_id=50), LabelClassFactory(label_id=50)]),
        ("upper-case class name", lambda: LabelClassFactory(name="Mito")),
        (
            "ratio metric above one",
            lambda: m.BenchmarkResult.objects.create(dataset=DatasetFactory(), method="m", metric="iou", value=1.2),
        ),
        (
            "negative Hausdorff distance",
            lambda: m.BenchmarkResult.objects.create(
                dataset=DatasetFactory(), method="m", metric="hausdorff", value=-1
            ),
        ),
    ],
)
def test_the_database_rejects(label, create):
    assert rejected(create), label


@pytest.mark.parametrize(
    ("label", "create"),
    [
        ("flipped axis", lambda: VolumeFactory(scale_y=-4.0)),
        ("anisotropic voxels", lambda: DatasetFactory(voxel_size_x=10, voxel_size_y=10, voxel_size_z=40)),
        ("unknown voxel size", lambda: DatasetFactory(voxel_size_x=None, voxel_size_y=None, voxel_size_z=None)),
        ("withheld test crop", lambda: CropFactory(split="test", labels_url="")),
        ("half-voxel crop offset", lambda: CropFactory(translation_x=0.5, voxel_size_z=1.62)),
        ("unknown format", lambda: VolumeFactory(format="", url="")),
        (
            "Hausdorff above one",
            lambda: m.BenchmarkResult.objects.create(
                dataset=DatasetFactory(), method="m", metric="hausdorff", value=12.5
            ),
        ),
        ("valid DOI", lambda: m.DOI.objects.create(value="10.25378/janelia.c.7456966")),
    ],
)
def test_the_database_accepts(label, create):
    assert not rejected(create), label


def test_group_membership_is_many_to_many_and_overlaps():
    ne_mem = LabelClassFactory(name="ne_mem")
    er = LabelClassFactory(name="er")
    nuc = LabelClassFactory(name="nuc")
    er.members.add(ne_mem)
    nuc.members.add(ne_mem)
    assert set(ne_mem.member_of.values_list("name", flat=True)) == {"er", "nuc"}
    assert not ne_mem.members.exists()
