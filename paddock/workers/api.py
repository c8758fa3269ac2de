"""Background work for API clients: a job's status (an export or import started through
the API), a batch's weekly cycle (the training pipeline): start it, follow it, cancel it,
re-run it from a step; and a curation run's start.

The views parse and answer; the rules are the services' (the console calls the same ones),
so a refusal reads the same on both doors: 409 with the reason.
"""

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from paddock.annotation.api.permissions import IsDataManager
from paddock.annotation.api.views import Refused
from paddock.annotation.models import Batch
from paddock.annotation.services.batch_jobs import batch_pipeline_start
from paddock.annotation.services.batches import BatchError
from paddock.curation.models import CurationRun
from paddock.curation.services.actions import curation_run_start
from paddock.workers.models import Job, PipelineRun, StepRun
from paddock.workers.pipeline.plan import PRESETS, STEP_NAMES
from paddock.workers.pipeline.service import PipelineError, pipeline_cancel, pipeline_rerun


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


class StepRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = StepRun
        fields = ["step", "position", "state", "progress", "message", "attempts",
                  "started_at", "finished_at"]


class PipelineRunSerializer(serializers.ModelSerializer):
    steps = serializers.SerializerMethodField()

    class Meta:
        model = PipelineRun
        fields = ["id", "batch", "state", "trigger", "plan", "next_batch", "error",
                  "created_at", "started_at", "finished_at", "steps"]

    def get_steps(self, run: PipelineRun) -> list[dict]:
        return StepRunSerializer(run.steps.order_by("position"), many=True).data


class PipelineStartSerializer(serializers.Serializer):
    preset = serializers.ChoiceField(
        choices=list(PRESETS), required=False,
        help_text="Run with this preset (the batch keeps it); by default the batch's plan.")


class RerunSerializer(serializers.Serializer):
    from_step = serializers.ChoiceField(choices=list(STEP_NAMES))


def _run(run: PipelineRun, code: int) -> Response:
    return Response(PipelineRunSerializer(run).data, status=code)


class BatchPipelineStart(APIView):
    """Start the batch's weekly cycle (202); a batch with an active run answers with that
    run (200); a batch that never opened, or a plan the trainers would refuse, 409."""

    permission_classes = [IsDataManager]

    @extend_schema(request=PipelineStartSerializer,
                   responses={202: PipelineRunSerializer, 200: PipelineRunSerializer})
    def post(self, request: Request, pk: int) -> Response:
        batch = generics.get_object_or_404(Batch, pk=pk)
        payload = PipelineStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            started = batch_pipeline_start(
                batch=batch, preset=payload.validated_data.get("preset"),
                requested_by=request.user)
        except BatchError as error:
            raise Refused(error) from None
        code = status.HTTP_202_ACCEPTED if started.created else status.HTTP_200_OK
        return _run(started.run, code)


@extend_schema(responses={200: PipelineRunSerializer})
class PipelineRunDetail(generics.RetrieveAPIView):
    permission_classes = [IsDataManager]
    serializer_class = PipelineRunSerializer
    queryset = PipelineRun.objects.all()


class PipelineRunCancel(APIView):
    """Cancel a run: steps not started never start, a running step's worker is told to
    stop. A run already finished is answered as it is."""

    permission_classes = [IsDataManager]

    @extend_schema(request=None, responses={200: PipelineRunSerializer})
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        run = generics.get_object_or_404(PipelineRun, pk=pk)
        return _run(pipeline_cancel(run), status.HTTP_200_OK)


class PipelineRunRerun(APIView):
    """A new run (202) that reuses this one's results before ``from_step``; 409 with the
    reason when the run is still active or an earlier step did not finish."""

    permission_classes = [IsDataManager]

    @extend_schema(request=RerunSerializer, responses={202: PipelineRunSerializer})
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        run = generics.get_object_or_404(PipelineRun.objects.select_related("batch"), pk=pk)
        payload = RerunSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            new = pipeline_rerun(run, from_step=payload.validated_data["from_step"],
                                 user=request.user)
        except PipelineError as error:
            raise Refused(error) from None
        return _run(new, status.HTTP_202_ACCEPTED)


class CurationRunSerializer(serializers.ModelSerializer):
    # Plain text in the schema: a second enum named "status" (the batch's) would collide.
    status = serializers.CharField(read_only=True,
                                   help_text="draft, queued, running, succeeded or failed")

    class Meta:
        model = CurationRun
        fields = ["id", "name", "status", "stage", "progress", "message"]


class CurationRunStart(APIView):
    """Queue a curation run (202); one already queued or running answers as it is (200)."""

    permission_classes = [IsDataManager]

    @extend_schema(request=None,
                   responses={202: CurationRunSerializer, 200: CurationRunSerializer})
    def post(self, request: Request, pk: int) -> Response:
        run = generics.get_object_or_404(CurationRun, pk=pk)
        started = curation_run_start(run=run, requested_by=request.user)
        code = status.HTTP_202_ACCEPTED if started.created else status.HTTP_200_OK
        return Response(CurationRunSerializer(started.run).data, status=code)
