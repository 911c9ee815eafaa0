from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("vaults.api.urls")),
    path("", include("monitoring.urls")),
    path("", include("console.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

handler400 = "vaults.api.errors.json_bad_request"
handler404 = "vaults.api.errors.json_not_found"
handler403 = "vaults.api.errors.json_forbidden"
handler500 = "vaults.api.errors.json_server_error"
