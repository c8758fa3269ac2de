"""Job status for API clients (an export or import started through the API)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from paddock.annotation.api.permissions import IsDataManager
from paddock.workers.models import Job


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = [
            "id", "task_name", "queue", "label", "state", "progress", "message", "result",
            "error", "worker", "attempts", "created_at", "started_at", "finished_at",
        ]


@extend_schema(responses={200: JobSerializer})
class JobDetail(generics.RetrieveAPIView):
    permission_classes = [IsDataManager]
    serializer_class = JobSerializer
    queryset = Job.objects.all()
