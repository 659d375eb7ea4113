"""A custom AUTH_USER_MODEL (not a subclass of AbstractUser): linking must not assume
Django's own User, its username or its first_name/last_name."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models


class MemberManager(BaseUserManager["Member"]):
    def create_user(self, handle: str, **fields: Any) -> Member:
        user = self.model(handle=handle, **fields)
        user.set_unusable_password()
        user.save()
        return user


class Member(AbstractBaseUser, PermissionsMixin):
    handle = models.CharField(max_length=150, unique=True)
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    USERNAME_FIELD = "handle"
    EMAIL_FIELD = "email"
    objects: ClassVar[MemberManager] = MemberManager()
