from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from paddock.platform import views
from paddock.platform.health.views import healthz

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("annotate/", include("paddock.annotation.urls")),
    path("manage/", include("paddock.platform.console.urls")),
    path("manage/curation/", include("paddock.platform.curation.urls")),
    path("admin/", admin.site.urls),
]
