from django.apps import AppConfig


class CurationConfig(AppConfig):
    name = "paddock.curation"
    label = "curation"
    verbose_name = "Curation"
