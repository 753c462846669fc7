"""SMS through Aliyun Dysms (阿里云短信服务) ``SendSms``.

``SmsClient`` is the interface the outbox delivers through. ``FakeDysms`` stands in for Aliyun's
servers, which are unreachable here: it takes the same request parameters as the real ``SendSms``
call (API version 2017-05-25) and answers the way Dysms does (``Code``/``Message``/``BizId``/
``RequestId``), refusing what Dysms refuses: a malformed number, a non-string or over-long template
variable, a URL in a variable. A live client adds the RPC signature (``AccessKeyId``, ``Signature`` …)
to these parameters and POSTs them to ``dysmsapi.aliyuncs.com``.

Dysms only sends approved templates: links and other fixed text live in the template, and the
message carries the variables (each a string of at most 35 characters, no URLs).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from drivetrain.config import get_settings
from drivetrain.jobs import registry

API_VERSION = "2017-05-25"
MAX_VARIABLE_LENGTH = 35
_MAINLAND = re.compile(r"^1\d{10}$")
_INTERNATIONAL = re.compile(r"^[1-9]\d{6,14}$")
_URL = re.compile(r"(https?://|www\.)", re.IGNORECASE)


class SmsError(RuntimeError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"Dysms {code}: {message}")
        self.code = code


class SmsClient(Protocol):
    def send(
        self, *, phone: str, sign_name: str, template_code: str, params: dict[str, str], out_id: str | None
    ) -> dict[str, Any]: ...


def dysms_number(e164: str) -> str:
    """Dysms numbers: 11 digits for mainland China, country code and number (no ``+``) elsewhere."""
    if not e164.startswith("+"):
        raise ValueError("expected an E.164 number")
    return e164.removeprefix("+86") if e164.startswith("+86") else e164.removeprefix("+")


def send_sms_params(
    *, phone: str, sign_name: str, template_code: str, params: dict[str, str], out_id: str | None
) -> dict[str, str]:
    """The business parameters of ``Action=SendSms`` (the signature parameters come on top)."""
    request = {
        "Action": "SendSms",
        "Version": API_VERSION,
        "RegionId": "cn-hangzhou",
        "Format": "JSON",
        "PhoneNumbers": dysms_number(phone),
        "SignName": sign_name,
        "TemplateCode": template_code,
        "TemplateParam": json.dumps(params, ensure_ascii=False, separators=(",", ":")),
    }
    if out_id:
        request["OutId"] = out_id
    return request


def check_response(response: dict[str, Any]) -> dict[str, Any]:
    if response.get("Code") != "OK":
        raise SmsError(str(response.get("Code")), str(response.get("Message", "")))
    return response


def _refusal(request: dict[str, str]) -> tuple[str, str] | None:
    """What Dysms would answer instead of OK, if anything."""
    number = request["PhoneNumbers"]
    if not (_MAINLAND.match(number) or _INTERNATIONAL.match(number)):
        return "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"
    variables = json.loads(request["TemplateParam"])
    if not all(isinstance(value, str) for value in variables.values()):
        return "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"
    if any(_URL.search(value) for value in variables.values()):
        return "isv.PARAM_NOT_SUPPORT_URL", "不支持url为变量"
    if any(not 1 <= len(value) <= MAX_VARIABLE_LENGTH for value in variables.values()):
        return "isv.PARAM_LENGTH_LIMIT", "参数超出长度限制"
    return None


@dataclass
class FakeDysms:
    """Records every request it is sent; ``templates`` (when given) are the approved template codes."""

    templates: set[str] | None = None
    sent: list[dict[str, str]] = field(default_factory=list)
    _biz_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(900619746936498), repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(
        self, *, phone: str, sign_name: str, template_code: str, params: dict[str, str], out_id: str | None
    ) -> dict[str, Any]:
        request = send_sms_params(
            phone=phone, sign_name=sign_name, template_code=template_code, params=params, out_id=out_id
        )
        with self._lock:
            self.sent.append(request)
            biz_id = f"{next(self._biz_ids)}^0"
        refusal = _refusal(request)
        if refusal is None and self.templates is not None and template_code not in self.templates:
            refusal = ("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        answer = {"RequestId": str(uuid.uuid4()).upper()}
        if refusal is not None:
            return check_response(answer | {"Code": refusal[0], "Message": refusal[1]})
        return check_response(answer | {"Code": "OK", "Message": "OK", "BizId": biz_id})


_client: SmsClient = FakeDysms()


def client() -> SmsClient:
    return _client


def use_client(new_client: SmsClient) -> None:
    global _client
    _client = new_client


@registry.deliverer("sms.send")
def deliver_sms(payload: dict[str, Any]) -> None:
    """Outbox deliverer for topic ``sms.send``: ``{"to": "+86…", "template": "SMS_…", "params": {…}}``.

    ``out_id`` (optional) comes back in Dysms delivery receipts."""
    client().send(
        phone=str(payload["to"]),
        sign_name=get_settings().sms_sign_name,
        template_code=str(payload["template"]),
        params={str(k): str(v) for k, v in payload.get("params", {}).items()},
        out_id=payload.get("out_id"),
    )
