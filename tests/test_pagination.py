"""The pager shows the ends, the pages around the current one and ellipses, however many pages."""

import re

from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.test import RequestFactory


def rendered_pager(number: int, pages: int) -> list[str]:
    page = Paginator(range(pages * 10), 10).page(number)
    request = RequestFactory().get("/datasets/", {"q": "mito", "page": number})
    html = render_to_string("catalog/partials/pagination.html", {"page": page, "request": request})
    return re.findall(r"<li><(?:a [^>]*|span[^>]*)>([^<]+)</", html)


def test_a_long_result_list_is_paged_with_ellipses():
    assert rendered_pager(50, 400) == ["← Previous", "1", "…", "48", "49", "50", "51", "52", "…", "400", "Next →"]


def test_a_short_result_list_shows_every_page():
    assert rendered_pager(1, 3) == ["1", "2", "3", "Next →"]


def test_links_keep_the_other_parameters():
    page = Paginator(range(100), 10).page(2)
    request = RequestFactory().get("/datasets/", {"q": "mito", "page": 2})
    html = render_to_string("catalog/partials/pagination.html", {"page": page, "request": request})
    assert "q=mito" in html
    assert "page=3" in html
