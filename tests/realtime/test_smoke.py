import pytest

from tests.conftest import ws_connect


@pytest.mark.django_db(transaction=True)
async def test_socket_connects_and_acks(course, student):
    communicator = await ws_connect(student)
    await communicator.send_json_to({"event": "nope", "ref": "1"})
    reply = await communicator.receive_json_from()
    while reply["event"] in ("presence-changed", "presence-batch"):  # the user's own connect, in the course room
        reply = await communicator.receive_json_from()
    assert reply["event"] == "error"
    assert reply["data"]["code"] == "unknown_event"
    await communicator.disconnect()
