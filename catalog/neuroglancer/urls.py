"""URLs of the Neuroglancer endpoints: the states (mounted at /api/states/) and the viewer page
(mounted at /neuroglancer/)."""

from django.urls import path, re_path

from catalog.neuroglancer import endpoints

state_urlpatterns = [
    path("datasets/<slug:slug>/", endpoints.dataset_state, name="state-dataset"),
    path("volumes/<int:pk>/", endpoints.volume_state, name="state-volume"),
    path("crops/<int:number>/", endpoints.crop_state, name="state-crop"),
    path("views/<int:pk>/", endpoints.curated_view_state, name="state-view"),
    path("custom/", endpoints.custom_state, name="state-custom"),
    path("saved/", endpoints.save, name="state-save"),
    # Keys are secrets.token_urlsafe: anything else is no key (a JSON 404), never a database query.
    re_path(r"^saved/(?P<key>[A-Za-z0-9_-]{1,32})/$", endpoints.saved_state, name="state-saved"),
]

viewer_urlpatterns = [path("", endpoints.viewer_page, name="neuroglancer-viewer")]
