from django.urls import path

from paddock.annotation.api import views
from paddock.workers import api as work

app_name = "annotation-api"
urlpatterns = [
    path("next", views.NextComparison.as_view(), name="next"),
    path("assignments/<int:assignment_id>/submit", views.Submit.as_view(), name="submit"),
    path("assignments/<int:assignment_id>/skip", views.Skip.as_view(), name="skip"),
    path("assignments/<int:assignment_id>/release", views.Release.as_view(), name="release"),
    path("judgements/mine", views.MyJudgements.as_view(), name="my-judgements"),
    path("judgements/<int:judgement_id>/continue", views.ContinueConversation.as_view(),
         name="continue"),
    path("judgements/<int:judgement_id>", views.ManagedJudgement.as_view(), name="judgement"),
    path("judgements/<int:judgement_id>/mark", views.MarkJudgement.as_view(),
         name="judgement-mark"),
    path("prompts", views.WritePrompt.as_view(), name="prompts"),
    path("prompts/<uuid:request_id>", views.SamplingStatus.as_view(), name="prompt-status"),
    path("progress", views.MyProgress.as_view(), name="progress"),
    path("batches", views.BatchList.as_view(), name="batches"),
    path("batches/<int:pk>", views.BatchDetail.as_view(), name="batch"),
    path("batches/<int:pk>/status", views.BatchMove.as_view(), name="batch-status"),
    path("batches/<int:pk>/stats", views.BatchStats.as_view(), name="batch-stats"),
    path("batches/<int:pk>/export", views.BatchExport.as_view(), name="batch-export"),
    path("batches/<int:pk>/judgements", views.BatchJudgements.as_view(),
         name="batch-judgements"),
    path("batches/<int:pk>/import", views.BatchImportUpload.as_view(), name="batch-import"),
    path("batches/<int:pk>/pipeline", work.BatchPipelineStart.as_view(), name="batch-pipeline"),
]
