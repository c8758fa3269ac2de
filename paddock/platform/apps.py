from django.contrib.admin.apps import AdminConfig


class PaddockAdminConfig(AdminConfig):
    default_site = "paddock.platform.admin_site.PaddockAdminSite"
