"""The annotation REST API: thin views over the services, one permission per role.

Annotators reach only their own assignments and judgements: every lookup filters by the
requesting user, so another annotator's id answers 404, never 403 (which would confirm it
exists). Data managers reach batches, imports, exports and statistics.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from django.db import transaction
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from paddock.annotation.api import serializers as s
from paddock.annotation.api.permissions import IsAnnotator, IsDataManager
from paddock.annotation.api.throttles import SamplingThrottleMixin
from paddock.annotation.models import Assignment, Batch, Judgement, Strength
from paddock.annotation.selectors import (
    annotator_progress,
    judgement_payload,
    lease_payload,
    open_batches,
    queue_empty_reason,
)
from paddock.annotation.services import assignment as service
from paddock.annotation.services import judgement_browser as browser
from paddock.annotation.services.authoring import (
    AuthoringRequest,
    OpenLimitReached,
    continue_request,
    prompt_request,
    sampling_room,
)
from paddock.annotation.services.batch_jobs import batch_export_start, batch_import_start
from paddock.annotation.services.batches import (
    BatchError,
    batch_create,
    batch_edit,
    batch_status_set,
)
from paddock.annotation.services.export import export_path
from paddock.annotation.services.quality import batch_quality
from paddock.workers.jobs import job_enqueue
from paddock.workers.models import Job, JobState
from paddock.workers.tasks.annotation import sample_responses_task


def _accepted(job, *, created: bool = True) -> Response:
    """A job was queued (202), or one already under way answers (200): the client polls
    /api/v1/jobs/{id}."""
    return Response({"job": str(job.pk), "state": job.state},
                    status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class Refused(APIException):
    """A manager's action a service refuses in the state things are in (409), with the
    service's reason: the console shows the same sentence."""

    status_code = status.HTTP_409_CONFLICT

    def __init__(self, error: Exception):
        super().__init__({"error": getattr(error, "code", "refused"), "detail": str(error)})


def _refused(error: service.AnnotationError) -> Response:
    code = status.HTTP_400_BAD_REQUEST
    if isinstance(error, service.LeaseLost | service.BatchNotOpen | service.AlreadySkipped
                  | service.AlreadyJudged | OpenLimitReached):
        code = status.HTTP_409_CONFLICT
    body = {"error": error.code, "detail": error.message}
    if getattr(error, "field", None):
        body["field"] = error.field  # which field of the request was refused
    return Response(body, status=code)


def _empty_headers(empty) -> dict[str, str]:
    return {"Paddock-Queue-Empty": empty.reason,
            "Paddock-Queue-Empty-Detail": quote(empty.detail)}


class NextComparison(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(
        request=s.NextSerializer,
        responses={200: s.AssignmentSerializer, 204: OpenApiResponse(
            description="Nothing left. Why: the `Paddock-Queue-Empty` header holds the reason "
            "(holding_limit, no_open_batch, batch_closed, nothing_assigned, quota_met, "
            "done_by_you, assigned_to_others) and `Paddock-Queue-Empty-Detail` the sentence "
            "for people, percent-encoded UTF-8."
        )},
    )
    def post(self, request: Request) -> Response:
        """Lease the next comparison, or return the oldest one already leased that the
        client does not say it holds (``holding``).

        An empty queue stays a bodiless 204 (scripts rely on it); the reason travels in
        headers so the workspace can say why rather than guess.
        """
        payload = s.NextSerializer(data=request.data or {})
        payload.is_valid(raise_exception=True)
        holding = payload.validated_data["holding"]
        lease = service.next_assignment(annotator=request.user, holding=holding)
        if lease is None:
            empty = queue_empty_reason(annotator=request.user, holding=holding)
            return Response(status=status.HTTP_204_NO_CONTENT, headers=_empty_headers(empty))
        return Response(lease_payload(lease.pk))


def _answer(request: Request, result: service.Submitted, holding) -> Response:
    """A submit's or skip's answer: the judgement, and with ``next`` the next lease (or
    why there is none) in the same body."""
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    judgement = judgement_payload(result.judgement)
    if not result.asked_next:
        return Response(judgement, status=code)
    empty = None
    if result.next_lease is None:
        reason = queue_empty_reason(annotator=request.user, holding=holding)
        empty = {"reason": reason.reason, "detail": reason.detail}
    return Response({
        "judgement": judgement,
        "next": None if result.next_lease is None else lease_payload(result.next_lease.pk),
        "queue_empty": empty,
    }, status=code)


class Submit(APIView):
    """Store a judgement. With ``next: true`` the answer also holds the next comparison
    (leased in the same transaction): one request per judgement."""

    permission_classes = [IsAnnotator]

    @extend_schema(request=s.SubmitSerializer, responses={
        201: s.JudgementSerializer, 200: s.JudgementSerializer,
        (201, "application/json; next=true"): s.JudgementAndNextSerializer})
    def post(self, request: Request, assignment_id: int) -> Response:
        payload = s.SubmitSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            result = service.submit_judgement(
                annotator=request.user, assignment_id=assignment_id, chosen_side=data["chosen"],
                strength=data["strength"], left_safe=data["left_safe"],
                right_safe=data["right_safe"], comment=data["comment"],
                flagged_harmful=data["flagged_harmful"], then_next=data["next"],
                holding=data["holding"],
            )
        except Assignment.DoesNotExist:
            raise Http404("No such assignment of yours.") from None
        except service.AnnotationError as error:
            return _refused(error)
        return _answer(request, result, data["holding"])


class Skip(APIView):
    """Skip a comparison, with the reason; ``next: true`` as for submit."""

    permission_classes = [IsAnnotator]

    @extend_schema(request=s.SkipSerializer, responses={
        201: s.JudgementSerializer,
        (201, "application/json; next=true"): s.JudgementAndNextSerializer})
    def post(self, request: Request, assignment_id: int) -> Response:
        payload = s.SkipSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            result = service.skip_comparison(
                annotator=request.user, assignment_id=assignment_id,
                reason=data["reason"], flagged_harmful=data["flagged_harmful"],
                then_next=data["next"], holding=data["holding"],
            )
        except Assignment.DoesNotExist:
            raise Http404("No such assignment of yours.") from None
        except service.AnnotationError as error:
            return _refused(error)
        return _answer(request, result, data["holding"])


class Release(APIView):
    """Give a comparison back unanswered: the lease goes and the comparison returns to
    the pool (the annotator's own queue included). The workspace releases the comparison
    it holds ahead when the annotator leaves or switches to writing a prompt. 204; an
    answered lease stays as it is (204 too); 404 for one released before or not yours."""

    permission_classes = [IsAnnotator]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, assignment_id: int) -> Response:
        try:
            service.release_lease(annotator=request.user, assignment_id=assignment_id)
        except Assignment.DoesNotExist:
            raise Http404("No such assignment of yours.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyProgress(APIView):
    """The requesting annotator's own progress: today, per open batch, gold accuracy
    where the batch reveals it."""

    permission_classes = [IsAnnotator]

    @extend_schema(responses={200: s.ProgressSerializer})
    def get(self, request: Request) -> Response:
        return Response(annotator_progress(request.user))


def _sampling_enqueue(request: Request, authoring: AuthoringRequest, label: str) -> Response:
    """Queue the two responses on the generation workers (when the annotator's open prompts
    leave room); the page polls the request."""
    try:
        with transaction.atomic():
            sampling_room(request.user)
            job = job_enqueue(
                task=sample_responses_task,
                kwargs={"request": authoring.as_kwargs(), "request_id": str(uuid.uuid4())},
                label=label, created_by=request.user,
            )
    except OpenLimitReached as error:
        return _refused(error)
    return Response(
        {"request": str(job.pk), "state": job.state,
         "status_url": reverse("annotation-api:prompt-status", args=[job.pk])},
        status=status.HTTP_202_ACCEPTED,
    )


class WritePrompt(SamplingThrottleMixin, APIView):
    """Write-a-prompt: checked now, answered by two responses a generation worker samples.

    202 with the request's id; ``GET prompts/{id}`` says when the comparison is ready
    (it is then leased to its author).
    """

    permission_classes = [IsAnnotator]

    @extend_schema(request=s.PromptSerializer, responses={202: s.SamplingAcceptedSerializer})
    def post(self, request: Request) -> Response:
        payload = s.PromptSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        batches = open_batches()
        if data["batch"] is not None:
            batches = batches.filter(pk=data["batch"])
        batch = batches.first()
        if batch is None:
            return _refused(service.BatchNotOpen(
                "No batch is open for new prompts right now; nothing was stored."
            ))
        try:
            authoring = prompt_request(
                annotator=request.user, batch=batch, message=data["message"], axis=data["axis"],
                risk_category=data["risk_category"],
            )
        except service.AnnotationError as error:
            return _refused(error)
        return _sampling_enqueue(request, authoring, f"Responses for a prompt in {batch.name}")


class ContinueConversation(SamplingThrottleMixin, APIView):
    """Go on from the chosen response of one of your judgements: a new user message, two
    new sampled responses (as for a written prompt), leased to you."""

    permission_classes = [IsAnnotator]

    @extend_schema(request=s.ContinueSerializer, responses={202: s.SamplingAcceptedSerializer})
    def post(self, request: Request, judgement_id: int) -> Response:
        payload = s.ContinueSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        judgement = (
            Judgement.objects.select_related("comparison__conversation", "comparison__batch",
                                             "chosen")
            .filter(pk=judgement_id, annotator=request.user)
            .first()
        )
        if judgement is None:
            raise Http404("No such judgement of yours.")
        try:
            authoring = continue_request(
                annotator=request.user, judgement=judgement,
                message=payload.validated_data["message"],
            )
        except service.AnnotationError as error:
            return _refused(error)
        return _sampling_enqueue(
            request, authoring, f"Responses for turn {len(authoring.turns)} of a conversation"
        )


class SamplingStatus(APIView):
    """Where your written prompt stands: queued, running, ready (with the comparison,
    leased to you) or failed (with the reason; the prompt was not stored)."""

    permission_classes = [IsAnnotator]

    @extend_schema(responses={200: s.SamplingStatusSerializer})
    def get(self, request: Request, request_id: uuid.UUID) -> Response:
        job = Job.objects.filter(
            pk=request_id, created_by=request.user, task_name="annotation.sample_responses"
        ).first()
        if job is None:
            raise Http404("No such prompt of yours.")
        body = {"request": str(job.pk), "state": job.state, "assignment": None, "detail": ""}
        if job.state == JobState.SUCCEEDED:
            body["assignment"] = lease_payload(job.result["assignment_id"])
        elif job.state == JobState.FAILED:
            body["detail"] = job.message.split(": ", 1)[-1]
        return Response(body)


class MyJudgements(generics.ListAPIView):
    """The requesting annotator's own judgements, newest first."""

    permission_classes = [IsAnnotator]
    serializer_class = s.JudgementSerializer

    def get_queryset(self):
        return Judgement.objects.filter(annotator=self.request.user).order_by("-id")[:500]


class BatchList(generics.ListCreateAPIView):
    permission_classes = [IsDataManager]
    serializer_class = s.BatchSerializer
    queryset = Batch.objects.order_by("-opens_at")

    def perform_create(self, serializer):
        serializer.instance = batch_create(values=serializer.validated_data,
                                           created_by=self.request.user)


class BatchDetail(generics.RetrieveUpdateAPIView):
    """A batch's settings; they change until it closes (then 409)."""

    permission_classes = [IsDataManager]
    serializer_class = s.BatchSerializer
    queryset = Batch.objects.all()

    def perform_update(self, serializer):
        try:
            serializer.instance = batch_edit(batch=serializer.instance,
                                             values=serializer.validated_data)
        except BatchError as error:
            raise Refused(error) from None


class BatchStats(APIView):
    permission_classes = [IsDataManager]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        batch = generics.get_object_or_404(Batch, pk=pk)
        comparisons = batch.comparisons.aggregate(
            total=Count("id"),
            complete=Count("id", filter=Q(judgement_count__gte=batch.overlap)),
            gold=Count("id", filter=Q(is_gold=True)),
        )
        judgements = Judgement.objects.filter(comparison__batch=batch)
        strengths = dict(
            judgements.filter(skipped=False)
            .values_list("strength")
            .annotate(n=Count("id"))
            .order_by()
        )
        return Response(
            {
                "batch": batch.name,
                "status": batch.status,
                "comparisons": comparisons,
                "judgements": judgements.filter(skipped=False).count(),
                "skips": judgements.filter(skipped=True).count(),
                "strengths": {value: strengths.get(value, 0) for value in Strength.values},
                "quality": batch_quality(batch),
            }
        )


class BatchExport(APIView):
    """Start an export job (POST: 202, or 200 with the export of that kind already queued
    or running) or download the last finished export (GET ?kind=)."""

    permission_classes = [IsDataManager]

    @extend_schema(request=s.ExportRequestSerializer, responses={202: dict, 200: dict})
    def post(self, request: Request, pk: int) -> Response:
        batch = generics.get_object_or_404(Batch, pk=pk)
        payload = s.ExportRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        started = batch_export_start(batch=batch, kind=payload.validated_data["kind"],
                                     requested_by=request.user)
        return _accepted(started.job, created=started.created)

    @extend_schema(responses={200: OpenApiResponse(description="gzip'd JSONL")})
    def get(self, request: Request, pk: int) -> FileResponse:
        batch = generics.get_object_or_404(Batch, pk=pk)
        kind = request.query_params.get("kind", "preferences")
        if kind not in ("preferences", "raw"):
            raise Http404("kind must be preferences or raw")
        path = export_path(batch, kind)
        if not path.exists():
            raise Http404("No finished export yet: start one with POST.")
        return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)


class BatchImportUpload(APIView):
    """Upload a JSONL file (prompts, pairs or HH-RLHF); it is imported by a worker."""

    permission_classes = [IsDataManager]
    parser_classes = [MultiPartParser]

    @extend_schema(request=s.ImportRequestSerializer, responses={202: dict})
    def post(self, request: Request, pk: int) -> Response:
        batch = generics.get_object_or_404(Batch, pk=pk)
        payload = s.ImportRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        job = batch_import_start(batch=batch, upload=data["file"], kind=data["kind"],
                                 dataset=data["dataset"], axis=data["axis"],
                                 requested_by=request.user)
        return _accepted(job)


class BatchMove(APIView):
    """Move a batch along draft -> scheduled -> open -> closed -> exported (409 with the
    reason for a move the batch refuses)."""

    permission_classes = [IsDataManager]

    @extend_schema(request=s.BatchStatusSerializer, responses={200: s.BatchSerializer})
    def post(self, request: Request, pk: int) -> Response:
        batch = generics.get_object_or_404(Batch, pk=pk)
        payload = s.BatchStatusSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            batch = batch_status_set(batch=batch, to=payload.validated_data["status"])
        except BatchError as error:
            raise Refused(error) from None
        return Response(s.BatchSerializer(batch).data)


def _browser_refused(error: service.AnnotationError) -> Response:
    """The judgement browser's refusals: bad input 400, a judgement of another batch 409;
    the detail is the sentence the console shows."""
    code = (status.HTTP_409_CONFLICT if isinstance(error, browser.WrongBatch)
            else status.HTTP_400_BAD_REQUEST)
    return Response({"error": error.code, "detail": error.message}, status=code)


class BatchJudgements(APIView):
    """A batch's judgements, newest first, 50 a page, under the console's filters
    (annotator, axis, strength, agreement, gold, flagged, skipped, review, seconds_min,
    seconds_max). Page on with ``after`` = ``next_after``, back with ``before`` =
    ``previous_before``; ``total`` stops counting above 1,000 (``total_capped``)."""

    permission_classes = [IsDataManager]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        batch = generics.get_object_or_404(Batch, pk=pk)
        try:
            filters = browser.filters_from(request.query_params)
            page = browser.judgement_page(batch, filters,
                                          after=request.query_params.get("after"),
                                          before=request.query_params.get("before"))
        except browser.BrowserError as error:
            return _browser_refused(error)
        return Response({
            "batch": batch.name, "filters": filters.query(), "results": page.rows,
            "next_after": page.next_after, "previous_before": page.previous_before,
            "total": page.total, "total_capped": page.total_capped,
        })


class ManagedJudgement(APIView):
    """One judgement for a data manager: its comparison, the conversation, both responses,
    every judgement of the comparison side by side, and its marks."""

    permission_classes = [IsDataManager]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, judgement_id: int) -> Response:
        judgement = generics.get_object_or_404(
            Judgement.objects.select_related("batch"), pk=judgement_id)
        return Response(browser.judgement_detail(judgement.batch, judgement.pk))


class MarkJudgement(APIView):
    """Mark a judgement ``review`` or ``excluded`` (left out of the preference export), or
    restore it (``none``), with a ``reason``; ``batch`` (an id), if sent, must be the
    judgement's (409 otherwise). 201 with the mark, 200 when it already had it."""

    permission_classes = [IsDataManager]

    @extend_schema(request=s.MarkSerializer, responses={201: dict, 200: dict})
    def post(self, request: Request, judgement_id: int) -> Response:
        payload = s.MarkSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        batch = None
        if data.get("batch") is not None:
            batch = generics.get_object_or_404(Batch, pk=data["batch"])
        try:
            marked = browser.judgement_mark(judgement=judgement_id, state=data["state"],
                                            reason=data["reason"], by=request.user,
                                            batch=batch)
        except Judgement.DoesNotExist:
            raise Http404("No such judgement.") from None
        except (browser.MarkRefused, browser.WrongBatch) as error:
            return _browser_refused(error)
        mark = marked.mark
        return Response(
            {"judgement": mark.judgement_id, "state": mark.state, "reason": mark.reason,
             "by": request.user.username, "at": mark.created_at},
            status=status.HTTP_201_CREATED if marked.created else status.HTTP_200_OK,
        )
