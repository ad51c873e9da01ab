"""URLs of the Neuroglancer viewer states."""

urlpatterns: list = []
