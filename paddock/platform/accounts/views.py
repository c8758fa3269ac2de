"""The log-in page: Django's, with failed attempts limited (accounts.throttle)."""

from django.contrib.auth import views as auth_views

from paddock.platform.accounts.throttle import login_throttled

login = login_throttled(auth_views.LoginView.as_view(redirect_authenticated_user=True))
