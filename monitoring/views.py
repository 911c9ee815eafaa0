from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.selectors import service_health


class HealthApi(APIView):
    throttle_classes = []

    @extend_schema(tags=["monitoring"], summary="Database, Redis and RPC reachability")
    def get(self, request):
        health = service_health()
        return Response(health, status=200 if health["status"] == "ok" else 503)
