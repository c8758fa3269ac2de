from rest_framework.permissions import BasePermission

from paddock.platform.accounts.models import Role


class IsAnnotator(BasePermission):
    message = "This endpoint is for annotators."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_role(Role.ANNOTATOR))


class IsDataManager(BasePermission):
    message = "This endpoint is for data managers."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_role(Role.DATA_MANAGER))
