"""URLs of the browse pages."""

app_name = "catalog"

urlpatterns: list = []
