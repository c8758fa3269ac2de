from django.urls import path

from paddock.curation import views

app_name = "curation"
urlpatterns = [
    path("", views.home, name="home"),
    path("ingest", views.ingest, name="ingest"),
    path("runs/new", views.run_create, name="run_create"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/start", views.run_start, name="run_start"),
    path("runs/<int:run_id>/progress", views.run_progress, name="run_progress"),
    path("sources/<int:source_id>/problems", views.source_problems, name="source_problems"),
    path("domains", views.domain_rule_set, name="domain_rule_set"),
    path("domains/<int:rule_id>/delete", views.domain_rule_delete, name="domain_rule_delete"),
]
