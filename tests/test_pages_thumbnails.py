"""Thumbnails that ingest rendered from images appear on dataset cards, pages and in the API."""

import datetime

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from catalog.models.ingest import VolumeStatistics
from tests.factories import DatasetFactory, VolumeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def statistics_with_thumbnail(volume, name: str) -> VolumeStatistics:
    stats = VolumeStatistics(
        volume=volume,
        fingerprint="f" * 64,
        data_min=0,
        data_max=255,
        contrast_min=0,
        contrast_max=255,
        contrast_start=10,
        contrast_end=200,
        computed_at=datetime.datetime.now(tz=datetime.UTC),
    )
    stats.thumbnail.save(name, ContentFile(b"\x89PNG\r\n\x1a\n"), save=False)
    stats.save()
    return stats


def test_an_ingested_image_thumbnail_stands_in_for_a_missing_thumbnail_url(client, media_root):
    dataset = DatasetFactory(slug="jrc_new-1", thumbnail_url="")
    stats = statistics_with_thumbnail(VolumeFactory(dataset=dataset, name="em"), "em.png")
    for page in (reverse("catalog:dataset-list"), reverse("catalog:dataset-detail", args=[dataset.slug])):
        html = client.get(page).content.decode()
        assert f'src="/media/{stats.thumbnail.name}"' in html
    assert client.get(f"/media/{stats.thumbnail.name}").status_code == 200


def test_the_record_thumbnail_url_wins(client, media_root):
    dataset = DatasetFactory(thumbnail_url="https://example.org/thumb.jpg")
    stats = statistics_with_thumbnail(VolumeFactory(dataset=dataset, name="em"), "em.png")
    html = client.get(reverse("catalog:dataset-list")).content.decode()
    assert 'src="https://example.org/thumb.jpg"' in html
    assert stats.thumbnail.name not in html


def test_segmentation_thumbnails_are_not_used_for_the_dataset(client, media_root):
    dataset = DatasetFactory(thumbnail_url="")
    stats = statistics_with_thumbnail(
        VolumeFactory(dataset=dataset, name="mito_seg", kind="segmentation", content_type="segmentation"), "seg.png"
    )
    assert stats.thumbnail.name not in client.get(reverse("catalog:dataset-list")).content.decode()


def test_the_api_gives_each_volume_its_thumbnail(client, media_root):
    dataset = DatasetFactory()
    with_thumbnail = VolumeFactory(dataset=dataset, name="em")
    stats = statistics_with_thumbnail(with_thumbnail, "em.png")
    VolumeFactory(dataset=dataset, name="bare")
    listed = {v["name"]: v["thumbnail_url"] for v in client.get("/api/volumes/").json()["results"]}
    assert listed == {"em": f"http://testserver/media/{stats.thumbnail.name}", "bare": None}
    detail = client.get(f"/api/volumes/{with_thumbnail.pk}/").json()
    assert detail["thumbnail_url"] == listed["em"]
