"""Role checks for views: anonymous users go to the login page, wrong roles get 403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission

from paddock.platform.accounts.models import Role


def role_required(*roles: Role) -> Callable:
    """Allow the view to users holding one of ``roles`` (admins always pass)."""
    if not roles:
        raise ValueError("role_required needs at least one role")

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not request.user.has_role(*roles):
                raise PermissionDenied(
                    f"This page is for {' or '.join(r.label.lower() for r in roles)}s."
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


annotator_required = role_required(Role.ANNOTATOR)
data_manager_required = role_required(Role.DATA_MANAGER)


class IsStaff(BasePermission):
    """Data managers and admins: the OpenAPI schema (``SPECTACULAR_SETTINGS``) maps every
    endpoint, manager ones included, so annotators do not get it (403)."""

    message = "The API schema is for data managers and admins."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_role(Role.DATA_MANAGER))
