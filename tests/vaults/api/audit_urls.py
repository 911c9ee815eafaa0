"""The project's URLs plus two test views that write a row: one answers 200, one raises after
writing (what a bug in a view looks like)."""
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from vaults.models import ApiKey


@csrf_exempt
def write_then_answer(request):
    ApiKey.objects.create(name=request.GET["name"], prefix=request.GET["name"][:12], key_hash=request.GET["name"])
    return JsonResponse({"success": True})


@csrf_exempt
def write_then_fail(request):
    ApiKey.objects.create(name=request.GET["name"], prefix=request.GET["name"][:12], key_hash=request.GET["name"])
    raise RuntimeError("a bug after the write")


urlpatterns = [
    path("test/write", write_then_answer),
    path("test/fail", write_then_fail),
    path("", include("vaultsite.urls")),
]
handler500 = "vaults.api.errors.json_server_error"
