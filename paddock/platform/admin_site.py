"""The Django admin, open to users with the admin role only.

Data managers work in paddock's own console; the raw admin lets one edit anything
(judgements included), so it is for admins alone.
"""

from django.contrib.admin import AdminSite


class PaddockAdminSite(AdminSite):
    site_header = "paddock administration"
    site_title = "paddock admin"

    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_active and user.is_authenticated and user.role == "admin")
