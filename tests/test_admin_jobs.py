"""The job admins (catalog.admin.jobs): every run list shows its progress bar, and runs started
elsewhere cannot be added in the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from catalog.models import ConversionRun, CutoutRun, IngestRun
from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db


def test_run_lists_show_progress_and_followed_runs_cannot_be_added(client) -> None:
    dataset = DatasetFactory()
    IngestRun.objects.create(prefix="s3://bucket/a/", dataset=dataset, progress_done=2, progress_total=5)
    ConversionRun.objects.create(source="s3://bucket/stack.tif", dataset=dataset, parts_done=3, parts_total=7)
    CutoutRun.objects.create(
        request_key="k" * 64,
        request={},
        dataset=dataset,
        progress_done=1,
        progress_total=4,
        artifact_url="s3://bucket/cutouts/k.zip",
    )
    client.force_login(get_user_model().objects.create_superuser("admin", "admin@example.org", "pw"))
    for path, shown in (
        ("/admin/catalog/ingestrun/", '<progress value="2" max="5"></progress> 2 / 5'),
        ("/admin/catalog/conversionrun/", '<progress value="3" max="7"></progress> 3 / 7 parts'),
        ("/admin/catalog/cutoutrun/", '<progress value="1" max="4"></progress> 1 / 4'),
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert shown in page.content.decode(), path
    assert client.get("/admin/catalog/conversionrun/add/").status_code == 403
    assert client.get("/admin/catalog/cutoutrun/add/").status_code == 403
