"""The test project's views: DRF views and viewsets on Focus, and plain Django views that
read request.user (login_required, PermissionRequiredMixin, request.auser())."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_focus.drf import FocusAPIMixin, HasCredits, IsFocusAccount, paid


def _who(request: Request) -> dict[str, Any]:
    user = request.user
    return {"user": user.get_username(), "user_type": type(user).__name__, "clerk_id": request.auth.clerk_id,
            "credits": request.auth.credits}


class Me(APIView):
    permission_classes = [IsFocusAccount]

    def get(self, request: Request) -> Response:
        return Response(_who(request))

    def post(self, request: Request) -> Response:
        return Response(_who(request))


class Open(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"authenticated": bool(request.user.is_authenticated)})


class Costly(APIView):
    permission_classes = [HasCredits(5, action="costly report")]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class CostlyOrStaff(APIView):
    permission_classes = [HasCredits(5) | IsAdminUser]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class RenderRequest(serializers.Serializer):
    frames = serializers.IntegerField(min_value=1, max_value=10)
    fail = serializers.BooleanField(default=False)


class Renders(FocusAPIMixin, viewsets.GenericViewSet):
    serializer_class = RenderRequest
    authentication_classes = APIView.authentication_classes
    permission_classes = [IsFocusAccount]

    @action(detail=False, methods=["post"])
    @paid(action="render", cost_estimate=5)
    def render(self, request: Request) -> Response:
        data = self.focus_serializer.validated_data
        if data["fail"]:
            raise RuntimeError("the renderer broke")
        request.focus_job.actual_cost = data["frames"]
        request.focus_job.metadata["frames"] = data["frames"]
        return Response({"frames": data["frames"], "job": request.focus_job.job_id}, status=201)


class PaidSummary(APIView):
    permission_classes = [IsFocusAccount]

    @paid(action="summary", cost_estimate=2)
    def get(self, request: Request) -> Response:
        return Response({"job": request.focus_job.job_id})


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"user": request.user.get_username(), "email": request.user.email})  # type: ignore[union-attr]


class Reports(PermissionRequiredMixin, View):
    permission_required = "accounts.view_member"
    raise_exception = True

    def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse({"ok": True})


async def adashboard(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"user": None}, status=401)
    return JsonResponse({"user": user.get_username(), "name": user.name})


class ForgivingAPIView(APIView):
    """A project whose exception handler answers 200 for anything: a failure must still
    not be charged."""

    def get_exception_handler(self) -> Any:
        return lambda exc, context: Response({"soft": True}, status=200)


class SoftRender(FocusAPIMixin, ForgivingAPIView):
    permission_classes = [IsFocusAccount]

    @paid(action="soft render", cost_estimate=4)
    def post(self, request: Request) -> Response:
        raise ValueError("broke after the reservation")
