"""WeCom (企业微信) application messages.

``WeComClient`` is the interface the outbox delivers through. ``FakeWeCom`` stands in for
WeCom's servers, which are unreachable here: it builds the same JSON body as the real
``message/send`` call and answers the way WeCom does (``errcode``/``errmsg``/``invaliduser``),
so what we send is checked against the real wire format.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from drivetrain.jobs import registry

SEND_PATH = "/cgi-bin/message/send"
MAX_TEXT_BYTES = 2048  # WeCom truncates text messages beyond this


class WeComError(RuntimeError):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeCom errcode {errcode}: {errmsg}")
        self.errcode = errcode


class WeComClient(Protocol):
    def send_text(self, *, to_userids: list[str], content: str) -> dict[str, Any]: ...


def text_message_body(*, agent_id: int, to_userids: list[str], content: str) -> dict[str, Any]:
    """The JSON body of POST /cgi-bin/message/send for a text message."""
    if not to_userids:
        raise ValueError("a WeCom message needs at least one recipient")
    encoded = content.encode("utf-8")
    if len(encoded) > MAX_TEXT_BYTES:
        content = encoded[:MAX_TEXT_BYTES].decode("utf-8", errors="ignore")
    return {
        "touser": "|".join(to_userids),
        "msgtype": "text",
        "agentid": agent_id,
        "text": {"content": content},
        "safe": 0,
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 1800,
    }


def check_response(response: dict[str, Any]) -> dict[str, Any]:
    if response.get("errcode", 0) != 0:
        raise WeComError(int(response["errcode"]), str(response.get("errmsg", "")))
    return response


@dataclass
class FakeWeCom:
    """Records every body it is sent; ``known_userids`` (when given) makes others "invalid" as WeCom does."""

    agent_id: int = 1000002
    known_userids: set[str] | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send_text(self, *, to_userids: list[str], content: str) -> dict[str, Any]:
        body = text_message_body(agent_id=self.agent_id, to_userids=to_userids, content=content)
        with self._lock:
            self.sent.append(body)
        invalid = [u for u in to_userids if self.known_userids is not None and u not in self.known_userids]
        if invalid and len(invalid) == len(to_userids):
            return check_response({"errcode": 81013, "errmsg": "user & party & tag all invalid"})
        return check_response({"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid)})


_client: WeComClient = FakeWeCom()


def client() -> WeComClient:
    return _client


def use_client(new_client: WeComClient) -> None:
    global _client
    _client = new_client


@registry.deliverer("wecom.app_message")
def deliver_app_message(payload: dict[str, Any]) -> None:
    """Outbox deliverer for topic ``wecom.app_message``: ``{"to": [userid…], "text": "…"}``."""
    client().send_text(to_userids=list(payload["to"]), content=str(payload["text"]))
