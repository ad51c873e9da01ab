"""URLs of the Neuroglancer viewer states (mounted at /api/states/)."""

from django.urls import path

from catalog.api import states

urlpatterns = [
    path("datasets/<slug:slug>/", states.dataset_state, name="state-dataset"),
    path("volumes/<int:pk>/", states.volume_state, name="state-volume"),
    path("crops/<int:number>/", states.crop_state, name="state-crop"),
    path("views/<int:pk>/", states.view_state, name="state-view"),
    path("custom/", states.custom_state, name="state-custom"),
    path("saved/", states.save, name="state-save"),
    path("saved/<str:key>/", states.saved_state, name="state-saved"),
]
