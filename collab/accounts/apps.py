from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "collab.accounts"
    label = "accounts"

    def ready(self) -> None:
        from collab.accounts import signals  # noqa: F401  (connects the receivers)
