"""The SMS adapter speaks Aliyun Dysms ``SendSms``; the WeCom customer adapter speaks ``add_msg_template``."""

from __future__ import annotations

import json
import re

import pytest

from drivetrain.integrations.sms.client import FakeDysms, SmsError, deliver_sms, dysms_number, use_client
from drivetrain.integrations.wecom.client import WeComError
from drivetrain.integrations.wecom.customer import FakeWeComCustomers, customer_message_body


def _send(gateway: FakeDysms, phone: str = "+8613800000001", **params: str) -> dict[str, object]:
    return gateway.send(
        phone=phone,
        sign_name="长安福特",
        template_code="SMS_1",
        params=params or {"token": "abc"},
        out_id="c1",
    )


def test_a_mainland_sms_is_sent_in_dysms_format() -> None:
    gateway = FakeDysms()
    answer = _send(gateway, token="Zx9_-abc")
    assert answer["Code"] == "OK" and answer["Message"] == "OK"
    assert re.fullmatch(r"\d+\^0", str(answer["BizId"])) and answer["RequestId"]
    [request] = gateway.sent
    assert request == {
        "Action": "SendSms",
        "Version": "2017-05-25",
        "RegionId": "cn-hangzhou",
        "Format": "JSON",
        "PhoneNumbers": "13800000001",
        "SignName": "长安福特",
        "TemplateCode": "SMS_1",
        "TemplateParam": '{"token":"Zx9_-abc"}',
        "OutId": "c1",
    }


@pytest.mark.parametrize(
    ("e164", "dysms"), [("+8613800000001", "13800000001"), ("+85261234567", "85261234567")]
)
def test_numbers_take_the_dysms_form(e164: str, dysms: str) -> None:
    assert dysms_number(e164) == dysms


@pytest.mark.parametrize(
    ("phone", "params", "code"),
    [
        ("+86123", {"token": "abc"}, "isv.MOBILE_NUMBER_ILLEGAL"),
        ("+8613800000001", {"token": "x" * 36}, "isv.PARAM_LENGTH_LIMIT"),
        ("+8613800000001", {"link": "https://dt.example.com/s/1"}, "isv.PARAM_NOT_SUPPORT_URL"),
    ],
)
def test_what_dysms_refuses_is_refused(phone: str, params: dict[str, str], code: str) -> None:
    with pytest.raises(SmsError) as refused:
        _send(FakeDysms(), phone, **params)
    assert refused.value.code == code


def test_only_approved_templates_go_out() -> None:
    with pytest.raises(SmsError) as refused:
        _send(FakeDysms(templates={"SMS_2"}))
    assert refused.value.code == "isv.SMS_TEMPLATE_ILLEGAL"


def test_the_outbox_deliverer_sends_through_the_client() -> None:
    gateway = FakeDysms()
    use_client(gateway)
    try:
        deliver_sms(
            {"to": "+8613800000002", "template": "SMS_9", "params": {"token": "t1"}, "out_id": "case"}
        )
    finally:
        use_client(FakeDysms())
    [request] = gateway.sent
    assert request["PhoneNumbers"] == "13800000002" and json.loads(request["TemplateParam"]) == {
        "token": "t1"
    }


def test_wecom_customer_messages_go_through_the_member() -> None:
    body = customer_message_body(sender="sc_a1", external_userids=["wm1"], content="请评价")
    assert body == {
        "chat_type": "single",
        "external_userid": ["wm1"],
        "sender": "sc_a1",
        "text": {"content": "请评价"},
    }
    wecom = FakeWeComCustomers(known_contacts={"wm1"})
    assert wecom.send_text(sender="sc_a1", external_userids=["wm1"], content="x")["msgid"]
    with pytest.raises(WeComError) as refused:
        wecom.send_text(sender="sc_a1", external_userids=["wm-unknown"], content="x")
    assert refused.value.errcode == 40096
