"""SES v2 raw MIME through boto3 against moto's server, read back over its API."""

from __future__ import annotations

from email import message_from_string

from refrain.adapters.ses_raw import RawSesMailer, build_raw_ses
from refrain.invoicing.mime import build_mime
from refrain.invoicing.render import RenderedMail
from refrain.settings import CloudSettings
from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.mailbox import sent_raw_mail
from refrain_tools.stack.manager import StackManager

MAIL = RenderedMail(subject="Kvitto 42", text="Tack", html="<p>Tack</p>")


def _send(cloud: CloudSettings, to: str) -> str:
    raw = build_mime(sender=cloud.mail_from, sender_name="Refrain", to=to, mail=MAIL)
    return RawSesMailer(build_raw_ses(cloud)).send_raw(sender=cloud.mail_from, to=to, raw=raw)


def test_send_then_read_back(cloud: CloudSettings, stack: StackManager) -> None:
    message_id = _send(cloud, "kim@example.com")
    [mail] = sent_raw_mail(stack.config)
    assert mail["id"] == message_id
    assert set(mail["destinations"]) == {"kim@example.com"}  # moto lists To: and the envelope
    assert mail["source"] == cloud.mail_from
    parsed = message_from_string(mail["raw_data"])
    assert parsed["Subject"] == "Kvitto 42"
    assert parsed["To"] == "kim@example.com"


def test_reset_empties_the_mailbox(cloud: CloudSettings, stack: StackManager) -> None:
    _send(cloud, "a@example.com")
    assert len(sent_raw_mail(stack.config)) == 1
    stack.reset()
    assert sent_raw_mail(StackConfig.model_validate(stack.config.model_dump())) == []
