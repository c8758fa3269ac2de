from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "paddock.platform.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"
