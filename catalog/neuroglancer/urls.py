"""URLs of the Neuroglancer endpoints: the states (mounted at /api/states/) and the viewer page
(mounted at /neuroglancer/)."""

from django.urls import path

from catalog.neuroglancer import endpoints

state_urlpatterns = [
    path("datasets/<slug:slug>/", endpoints.dataset_state, name="state-dataset"),
    path("volumes/<int:pk>/", endpoints.volume_state, name="state-volume"),
    path("crops/<int:number>/", endpoints.crop_state, name="state-crop"),
    path("views/<int:pk>/", endpoints.curated_view_state, name="state-view"),
    path("custom/", endpoints.custom_state, name="state-custom"),
    path("saved/", endpoints.save, name="state-save"),
    path("saved/<str:key>/", endpoints.saved_state, name="state-saved"),
]

viewer_urlpatterns = [path("", endpoints.viewer_page, name="neuroglancer-viewer")]
