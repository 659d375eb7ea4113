from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from tests.django_drf import views

router = SimpleRouter()
router.register("renders", views.Renders, basename="renders")

urlpatterns = [
    path("api/me", views.Me.as_view()),
    path("api/open", views.Open.as_view()),
    path("api/costly", views.Costly.as_view()),
    path("api/costly-or-staff", views.CostlyOrStaff.as_view()),
    path("api/summary", views.PaidSummary.as_view()),
    path("api/soft", views.SoftRender.as_view()),
    path("api/", include(router.urls)),
    path("api/schema", SpectacularAPIView.as_view()),
    path("dashboard", views.dashboard),
    path("reports", views.Reports.as_view()),
    path("adashboard", views.adashboard),
    path("admin/", admin.site.urls),
]
