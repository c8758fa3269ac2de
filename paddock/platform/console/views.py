"""The data manager's console: what is running, what ran, and which workers are up."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from paddock.platform.accounts.access import data_manager_required
from paddock.workers.models import Job, JobState

RECENT_JOBS = 50


@data_manager_required
def home(request: HttpRequest) -> HttpResponse:
    jobs = Job.objects.select_related("created_by")[:RECENT_JOBS]
    active = Job.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING]).count()
    return render(request, "console/home.html", {"jobs": jobs, "active_count": active})
