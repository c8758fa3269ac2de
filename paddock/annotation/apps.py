from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "paddock.annotation"
    label = "annotation"
    verbose_name = "Annotation"
