"""The Django admin, open to users with the admin role only.

Data managers work in paddock's own console; the raw admin lets one edit anything
(judgements included), so it is for admins alone.
"""

from django.contrib.admin import AdminSite

from paddock.platform.accounts.throttle import login_throttled


class PaddockAdminSite(AdminSite):
    site_header = "paddock administration"
    site_title = "paddock admin"

    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_active and user.is_authenticated and user.role == "admin")

    def login(self, request, extra_context=None):
        # The admin's own log-in form checks passwords too: same limits as /accounts/login/.
        return login_throttled(super().login)(request, extra_context)
