from django.contrib import admin

from paddock.workers.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Read-only: a job's record is what happened, written by workers, not by hand."""

    list_display = ("label", "task_name", "queue", "state", "progress", "worker", "created_at")
    list_filter = ("state", "queue", "task_name")
    search_fields = ("label", "task_name", "message")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
