from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from paddock.platform import views
from paddock.platform.accounts import views as account_views
from paddock.platform.accounts.access import data_manager_required
from paddock.platform.health.views import healthz
from paddock.workers import api as work

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", account_views.login, name="login"),  # failed attempts limited
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("annotate/", include("paddock.annotation.urls")),
    path("manage/", include("paddock.console.urls")),
    path("manage/curation/", include("paddock.curation.urls")),
    path("api/v1/annotation/", include("paddock.annotation.api.urls")),
    path("api/v1/jobs/<uuid:pk>", work.JobDetail.as_view(), name="api-job"),
    path("api/v1/pipeline-runs/<uuid:pk>", work.PipelineRunDetail.as_view(),
         name="api-pipeline-run"),
    path("api/v1/pipeline-runs/<uuid:pk>/cancel", work.PipelineRunCancel.as_view(),
         name="api-pipeline-run-cancel"),
    path("api/v1/pipeline-runs/<uuid:pk>/rerun", work.PipelineRunRerun.as_view(),
         name="api-pipeline-run-rerun"),
    path("api/v1/curation-runs/<int:pk>/start", work.CurationRunStart.as_view(),
         name="api-curation-run-start"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("admin/", admin.site.urls),
    # The interactive API page, for data managers and admins like the schema it shows; the
    # split view serves its start-up script as a file, so no inline script is needed.
    # Anonymous visitors are sent to the login page; annotators get 403.
    path("api/docs/",
         data_manager_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
         name="api-docs"),
]

# An outage (database, Redis) answers 503 with what is down; anything else a 500. Refused
# and missing pages are styled too, with a way back; API requests get JSON.
handler403 = "paddock.platform.errors.permission_denied"
handler404 = "paddock.platform.errors.page_not_found"
handler500 = "paddock.platform.errors.server_error"
