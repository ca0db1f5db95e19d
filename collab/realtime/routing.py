from django.urls import re_path

from collab.realtime.consumer import CollabConsumer

websocket_urlpatterns = [re_path(r"^ws/?$", CollabConsumer.as_asgi())]
