from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each user to where their work is: the workspace or the console."""
    if request.user.is_data_manager:
        return redirect("console:home")
    return redirect("annotation:workspace")
