from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.selectors import service_health
from vaults.api.schema import COMMON_HEADERS, errors
from vaults.api.serializers import HealthResponse
from vaults.api.throttling import HealthRateThrottle


class HealthApi(APIView):
    throttle_classes = [HealthRateThrottle]  # per client IP: probes must not be a free amplifier

    @extend_schema(tags=["monitoring"], summary="Database, Redis and RPC reachability", operation_id="health",
                   responses={200: HealthResponse, 503: HealthResponse, **errors(429, 431, 500)}, parameters=COMMON_HEADERS)
    def get(self, request):
        health = service_health()
        return Response(health, status=200 if health["status"] == "ok" else 503)
