from django.urls import path

from console import views

urlpatterns = [
    path("", views.index, name="live-index"),
    path("live/summary", views.summary, name="live-summary"),
    path("vaults/<str:owner>", views.vault, name="live-vault"),
    path("metrics", views.metrics_view, name="metrics"),
]
