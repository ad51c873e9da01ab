"""The self-hosted Neuroglancer page at /neuroglancer/ (its assets are static files under
/static/neuroglancer/)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.html import format_html

from catalog import viewer


def viewer_page(request: HttpRequest) -> HttpResponse:
    """The self-hosted Neuroglancer (viewer/dist/index.html); without a build, a page that says
    so and forwards the state in the URL fragment to the public viewer."""
    if viewer.self_hosted_viewer_available():
        index = settings.VIEWER_DIST_DIR / "index.html"
        return HttpResponse(index.read_bytes(), content_type="text/html; charset=utf-8")
    public = settings.PUBLIC_NEUROGLANCER_VIEWER_URL
    page = format_html(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Neuroglancer</title></head><body>"
        "<h1>The self-hosted Neuroglancer viewer is not built</h1>"
        "<p>Run <code>make viewer</code> (needs Node.js) to build it. Until then the portal opens "
        "states in the public viewer at <a id='public-viewer' href='{}'>{}</a>.</p>"
        "<script>if (location.hash) location.replace(document.getElementById('public-viewer').href + location.hash);"
        "</script></body></html>",
        public,
        public,
    )
    return HttpResponse(page)


urlpatterns = [path("", viewer_page, name="neuroglancer-viewer")]
