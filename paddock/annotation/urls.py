from django.urls import path

from paddock.annotation import views

app_name = "annotation"
urlpatterns = [
    path("", views.workspace, name="workspace"),
]
