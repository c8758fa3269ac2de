from django.urls import path

from paddock.platform.console import views

app_name = "console"
urlpatterns = [
    path("", views.home, name="home"),
]
