from django.apps import AppConfig


class CurationConfig(AppConfig):
    name = "paddock.platform.curation"
    label = "curation"
    verbose_name = "Curation"
