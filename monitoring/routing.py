"""WebSocket URL routes (the seeds' `ws://localhost:3000/ws`)."""
from django.urls import path

from monitoring.consumers import StreamConsumer

websocket_urlpatterns = [path("ws", StreamConsumer.as_asgi())]
