"""Every API error is JSON: {"success": false, "error": {"code", "message"}}; never a traceback."""
import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from vaults.errors import RateLimited, VaultServiceError

logger = logging.getLogger(__name__)


def error_body(code, message, details=None, request=None):
    error = {"code": code, "message": message}
    if details:
        error["details"] = details
    request_id = request.META.get("HTTP_X_REQUEST_ID") if request is not None else None
    if request_id:
        error["request_id"] = request_id  # set by vaultsite.http_guard
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
    request = getattr(context.get("request"), "_request", None)
    if isinstance(exc, VaultServiceError):
        response = Response(error_body(exc.code, exc.message, exc.extra, request), status=exc.status)
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="wallet"'
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "not found", request=request), status=404)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("body_too_large", "request body too large", request=request), status=413)
    if isinstance(exc, drf.APIException):
        code, message = _drf_code(exc)
        response = Response(error_body(code, message, request=request), status=exc.status_code)
        if isinstance(exc, drf.Throttled) and exc.wait:
            response["Retry-After"] = str(int(exc.wait))
        return response
    logger.exception("unhandled API error", exc_info=exc)
    return Response(error_body("internal_error", "internal server error", request=request), status=500)


def json_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", f"no route for {request.path}", request=request), status=404)


def json_server_error(request):
    return JsonResponse(error_body("internal_error", "internal server error", request=request), status=500)


def json_bad_request(request, exception=None):
    return JsonResponse(error_body("bad_request", "bad request", request=request), status=400)


def json_forbidden(request, exception=None):
    return JsonResponse(error_body("forbidden", "forbidden", request=request), status=403)
