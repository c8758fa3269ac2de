from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from paddock.platform.accounts.access import annotator_required


@annotator_required
def workspace(request: HttpRequest) -> HttpResponse:
    """The annotator's workspace; shows the empty-queue state until a batch is open."""
    return render(request, "annotation/workspace.html", {"comparison": None})
