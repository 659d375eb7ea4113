from __future__ import annotations

from django.urls import path

from example_apps.django_app import views

urlpatterns = [
    path("", views.home, name="home"),
    path("studio", views.studio, name="studio"),
    path("render", views.render_clip, name="render"),
    path("render/stream", views.render_stream, name="render-stream"),
    path("renders/<str:job_id>", views.render_result, name="render-result"),
    path("previews/<str:name>", views.preview_image, name="preview"),
    path("api/me", views.api_me, name="api-me"),
    path("api/render", views.api_render, name="api-render"),
]

handler404 = views.page_not_found
