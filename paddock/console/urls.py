from django.urls import path

from paddock.console import judgements, pipelines, views

app_name = "console"
urlpatterns = [
    path("", views.home, name="home"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<uuid:job_id>", views.job_progress, name="job_progress"),
    path("batches/", views.batch_list, name="batches"),
    path("batches/new", views.batch_create, name="batch_create"),
    path("batches/<int:batch_id>/", views.batch_detail, name="batch"),
    path("batches/<int:batch_id>/edit", views.batch_edit, name="batch_edit"),
    path("batches/<int:batch_id>/live", views.batch_live, name="batch_live"),
    path("batches/<int:batch_id>/status", views.batch_move_view, name="batch_move"),
    path("batches/<int:batch_id>/import", views.batch_import, name="batch_import"),
    path("batches/<int:batch_id>/export", views.batch_export, name="batch_export"),
    path("imports/examples/<str:kind>", views.import_example, name="import_example"),
    path("batches/<int:batch_id>/exports/<str:kind>", views.batch_export_file,
         name="batch_export_file"),
    path("batches/<int:batch_id>/judgements/", judgements.judgement_list, name="judgements"),
    path("batches/<int:batch_id>/judgements/<int:judgement_id>", judgements.judgement_detail,
         name="judgement"),
    path("batches/<int:batch_id>/judgements/<int:judgement_id>/mark",
         judgements.judgement_mark, name="judgement_mark"),
    path("batches/<int:batch_id>/run-pipeline", pipelines.batch_run_pipeline,
         name="batch_run_pipeline"),
    path("runs/", pipelines.run_list, name="runs"),
    path("runs/<uuid:run_id>/", pipelines.run_detail, name="run"),
    path("runs/<uuid:run_id>/live", pipelines.run_live, name="run_live"),
    path("runs/<uuid:run_id>/cancel", pipelines.run_cancel, name="run_cancel"),
    path("runs/<uuid:run_id>/rerun", pipelines.run_rerun, name="run_rerun"),
]
