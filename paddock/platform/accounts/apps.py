from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "paddock.platform.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Changes to users and tokens end cached authentication in every process.
        from paddock.platform.accounts import revocation  # noqa: F401
