"""WeCom messages to customers (external contacts), sent through the staff member they added.

WeCom lets a company reach an external contact only through one of its members: POST
``/cgi-bin/externalcontact/add_msg_template`` puts the message in that member's WeCom, who
confirms the send. ``FakeWeComCustomers`` builds the same JSON body and answers as WeCom does
(``errcode``/``errmsg``/``fail_list``/``msgid``; 40096 when no recipient is a known contact).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from drivetrain.integrations.wecom.client import MAX_TEXT_BYTES, check_response
from drivetrain.jobs import registry

SEND_PATH = "/cgi-bin/externalcontact/add_msg_template"


class WeComCustomerClient(Protocol):
    def send_text(self, *, sender: str, external_userids: list[str], content: str) -> dict[str, Any]: ...


def customer_message_body(*, sender: str, external_userids: list[str], content: str) -> dict[str, Any]:
    """The JSON body of POST /cgi-bin/externalcontact/add_msg_template for a text to single customers."""
    if not external_userids:
        raise ValueError("a WeCom customer message needs at least one external contact")
    encoded = content.encode("utf-8")
    if len(encoded) > MAX_TEXT_BYTES:
        content = encoded[:MAX_TEXT_BYTES].decode("utf-8", errors="ignore")
    return {
        "chat_type": "single",
        "external_userid": external_userids,
        "sender": sender,
        "text": {"content": content},
    }


@dataclass
class FakeWeComCustomers:
    """Records every body it is sent; ``known_contacts`` (when given) makes others fail as WeCom does."""

    known_contacts: set[str] | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send_text(self, *, sender: str, external_userids: list[str], content: str) -> dict[str, Any]:
        body = customer_message_body(sender=sender, external_userids=external_userids, content=content)
        with self._lock:
            self.sent.append(body)
            msgid = f"msg{next(self._ids):010d}"
        failed = [
            u for u in external_userids if self.known_contacts is not None and u not in self.known_contacts
        ]
        if failed and len(failed) == len(external_userids):
            return check_response(
                {"errcode": 40096, "errmsg": "invalid external userid", "fail_list": failed}
            )
        return check_response({"errcode": 0, "errmsg": "ok", "fail_list": failed, "msgid": msgid})


_client: WeComCustomerClient = FakeWeComCustomers()


def client() -> WeComCustomerClient:
    return _client


def use_client(new_client: WeComCustomerClient) -> None:
    global _client
    _client = new_client


@registry.deliverer("wecom.customer_message")
def deliver_customer_message(payload: dict[str, Any]) -> None:
    """Outbox deliverer for topic ``wecom.customer_message``:
    ``{"sender": userid, "to": [external_userid…], "text": "…"}``."""
    client().send_text(
        sender=str(payload["sender"]), external_userids=list(payload["to"]), content=str(payload["text"])
    )
