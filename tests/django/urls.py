from __future__ import annotations

from django.urls import path

from tests.django import views

urlpatterns = [
    path("", views.public),
    path("untouched", views.untouched),
    path("async", views.apublic),
    path("async-lazy", views.alazy),
    path("private", views.private),
    path("aprivate", views.aprivate),
    path("credits", views.credits),
    path("acredits", views.acredits),
    path("cbv/private", views.PrivatePage.as_view()),
    path("cbv/aprivate", views.APrivatePage.as_view()),
    path("cbv/credits", views.CreditsPage.as_view()),
    path("page", views.page),
    path("render", views.render_view),
    path("api/render", views.api_render),
    path("arender", views.arender),
    path("stream", views.stream),
    path("astream", views.astream),
    path("cbv/paid", views.PaidPage.as_view()),
    path("cbv/apaid", views.APaidPage.as_view()),
]
