"""URLs of the browse pages."""

from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/<slug:slug>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<slug:slug>/open/", views.dataset_open, name="dataset-open"),
    path("crops/<int:number>/", views.crop_detail, name="crop-detail"),
    path("volumes/<int:pk>/", views.volume_detail, name="volume-detail"),
    path("organelles/", views.organelle_list, name="organelle-list"),
    path("organelles/<str:name>/", views.organelle_detail, name="organelle-detail"),
    path("collections/", views.collection_list, name="collection-list"),
    path("collections/<slug:slug>/", views.collection_detail, name="collection-detail"),
    path("tissues/<slug:slug>/", views.tissue_detail, name="tissue-detail"),
    path("organisms/<slug:slug>/", views.organism_detail, name="organism-detail"),
]
