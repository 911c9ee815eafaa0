"""Every API error is JSON: {"success": false, "error": {"code", "message"}}; never a traceback."""
import logging

from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from vaults.errors import RateLimited, VaultServiceError

logger = logging.getLogger(__name__)


def error_body(code, message, details=None):
    error = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"success": False, "error": error}


def _drf_code(exc):
    if isinstance(exc, drf.ParseError):
        return "malformed_json", "the request body is not valid JSON"
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return "not_authenticated", str(exc.detail)
    if isinstance(exc, drf.PermissionDenied):
        return "forbidden", str(exc.detail)
    if isinstance(exc, drf.NotFound):
        return "not_found", str(exc.detail)
    if isinstance(exc, drf.MethodNotAllowed):
        return "method_not_allowed", str(exc.detail)
    if isinstance(exc, drf.UnsupportedMediaType):
        return "unsupported_media_type", str(exc.detail)
    if isinstance(exc, drf.Throttled):
        return "rate_limited", str(exc.detail)
    return "invalid_request", str(exc.detail)


def api_exception_handler(exc, context):
    if isinstance(exc, VaultServiceError):
        response = Response(error_body(exc.code, exc.message, exc.extra), status=exc.status)
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="wallet"'
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "not found"), status=404)
    if isinstance(exc, drf.APIException):
        code, message = _drf_code(exc)
        return Response(error_body(code, message), status=exc.status_code)
    logger.exception("unhandled API error", exc_info=exc)
    return Response(error_body("internal_error", "internal server error"), status=500)


def json_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", f"no route for {request.path}"), status=404)


def json_server_error(request):
    return JsonResponse(error_body("internal_error", "internal server error"), status=500)


def json_bad_request(request, exception=None):
    return JsonResponse(error_body("bad_request", "bad request"), status=400)
