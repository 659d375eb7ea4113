"""Views of tests/django_drf/test_idempotency.py: a DRF paid handler with idempotency keys."""

from __future__ import annotations

from django.urls import path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_focus.drf import IsFocusAccount, paid


class RenderInput(serializers.Serializer[dict[str, int]]):
    frames = serializers.IntegerField(min_value=1)


class Render(APIView):
    permission_classes = [IsFocusAccount]
    serializer_class = RenderInput

    @paid(action="render", cost_estimate=5, max_cost=7)
    def post(self, request: Request) -> Response:
        request.focus_job.actual_cost = self.focus_serializer.validated_data["frames"]  # type: ignore[attr-defined]
        return Response({"job_id": request.focus_job.job_id}, status=201)  # type: ignore[attr-defined]


urlpatterns = [path("render", Render.as_view())]
