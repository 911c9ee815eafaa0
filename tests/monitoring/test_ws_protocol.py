"""The /ws client protocol parser: every input is validated, with stable error codes."""
import json

import pytest

from monitoring.ws_protocol import ProtocolError, Target, parse

VAULT = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
OWNER = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"


def frame(**fields) -> str:
    return json.dumps(fields)


def test_valid_requests():
    request = parse(frame(action="subscribe", vault=VAULT, last_seq=12, id="a"), max_bytes=4096)
    assert (request.action, request.target, request.last_seq, request.id) == ("subscribe", Target("vault", VAULT), 12, "a")
    request = parse(frame(action="unsubscribe", user=OWNER), max_bytes=4096)
    assert (request.target.name, request.target.describe()) == (f"user:{OWNER}", {"user": OWNER})
    assert parse(frame(action="subscribe", all=True), max_bytes=4096).target == Target("all")
    assert parse(frame(action="auth", token="t0k"), max_bytes=4096).token == "t0k"
    assert parse(frame(action="auth", api_key="k.s"), max_bytes=4096).api_key == "k.s"
    assert parse(frame(action="ping", id=5), max_bytes=4096).id == 5
    assert parse(frame(action="subscribe", user=OWNER, last_seq=0), max_bytes=4096).last_seq == 0
    assert parse(frame(action="subscribe", user=OWNER, last_seq=2**64 - 1), max_bytes=4096).last_seq == 2**64 - 1


@pytest.mark.parametrize("text, code", [
    (None, "invalid_frame"),
    ("{not json", "invalid_json"),
    ("[1, 2]", "invalid_request"),
    ('"subscribe"', "invalid_request"),
    (frame(), "unknown_action"),
    (frame(action="dance"), "unknown_action"),
    (frame(action=["subscribe"]), "unknown_action"),
    (frame(action="subscribe"), "invalid_request"),
    (frame(action="subscribe", vault=VAULT, user=OWNER), "invalid_request"),
    (frame(action="subscribe", vault="not-a-key"), "invalid_pubkey"),
    (frame(action="subscribe", vault=12345), "invalid_pubkey"),
    (frame(action="subscribe", user="0OIl" * 8), "invalid_pubkey"),
    (frame(action="subscribe", user="1" * 50), "invalid_pubkey"),
    (frame(action="subscribe", user="2" * 32), "invalid_pubkey"),  # decodes to more than 32 bytes
    (frame(action="subscribe", tvl="yes"), "invalid_request"),
    (frame(action="subscribe", all=1), "invalid_request"),
    (frame(action="subscribe", tvl=True, last_seq=1), "invalid_request"),
    (frame(action="unsubscribe", vault=VAULT, last_seq=1), "invalid_request"),
    (frame(action="subscribe", vault=VAULT, last_seq=-1), "invalid_request"),
    (frame(action="subscribe", vault=VAULT, last_seq=2**64), "invalid_request"),
    (frame(action="subscribe", vault=VAULT, last_seq="3"), "invalid_request"),
    (frame(action="subscribe", vault=VAULT, last_seq=True), "invalid_request"),
    (frame(action="subscribe", vault=VAULT, last_seq=1.5), "invalid_request"),
    (frame(action="subscribe", vault=VAULT, colour="red"), "invalid_request"),
    (frame(action="ping", extra=1), "invalid_request"),
    (frame(action="auth"), "invalid_request"),
    (frame(action="auth", token="a", api_key="b"), "invalid_request"),
    (frame(action="auth", token=5), "invalid_request"),
    (frame(action="auth", token=""), "invalid_request"),
    (frame(action="auth", token="x" * 257), "invalid_request"),
    (frame(action="ping", id={"a": 1}), "invalid_request"),
    (frame(action="ping", id="x" * 65), "invalid_request"),
    (frame(action="ping", id=True), "invalid_request"),
    (frame(action="ping", id=2**60), "invalid_request"),
    (frame(action="ping", pad="x" * 5000), "frame_too_large"),
])
def test_invalid_frames_raise_a_coded_error(text, code):
    with pytest.raises(ProtocolError) as raised:
        parse(text, max_bytes=4096)
    assert raised.value.code == code
    assert raised.value.message


def test_errors_echo_the_request_id():
    with pytest.raises(ProtocolError) as raised:
        parse(frame(action="subscribe", vault="nope", id="req-1"), max_bytes=4096)
    assert raised.value.request_id == "req-1"
