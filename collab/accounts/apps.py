from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "collab.accounts"
    label = "accounts"

    def ready(self) -> None:
        from collab.accounts import (
            signals,  # noqa: F401  (connects the receivers)
            ticket_front,
        )
        from collab.accounts.views import WsTicketView
        from collab.core.asgi_fast.front import drf_view_headers, front_route

        front_route(
            ticket_front.PATH, ticket_front.ws_ticket_front, lambda: drf_view_headers(WsTicketView), method="POST"
        )
