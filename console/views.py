"""The public live pages (`/`, `/vaults/<owner>`) and /metrics.

The pages render the current state on the server, then follow `/ws` in the browser
(console/static/console/live.js): the public `feed` and `tvl` streams on `/`, the vault's own
stream with `last_seq` replay on the vault page."""
from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console import metrics, selectors
from vaults.chain.client import parse_pubkey


@require_GET
def index(request):
    return render(request, "live/index.html", {"summary": selectors.live_summary()})


@require_GET
def summary(request):
    """The index page's state, for a resync after its stream dropped."""
    return JsonResponse(selectors.live_summary())


@require_GET
def vault(request, owner: str):
    try:
        owner = str(parse_pubkey(owner))
    except ValueError:
        raise Http404("not a wallet address") from None
    state = selectors.vault_live(owner)
    if state is None:
        return render(request, "live/vault_unknown.html", {"owner": owner}, status=404)
    return render(request, "live/vault.html", {"state": state})


@require_GET
def metrics_view(request):
    token = settings.METRICS_BEARER_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    from prometheus_client import CONTENT_TYPE_LATEST

    return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_LATEST)
