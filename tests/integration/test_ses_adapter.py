"""SES v2 through boto3 against moto's server, read back over its API."""

from __future__ import annotations

from refrain.adapters.ses import OutgoingMail, SesMailer, build_ses
from refrain.settings import CloudSettings
from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.mailbox import sent_mail
from refrain_tools.stack.manager import StackManager


def test_send_then_read_back(cloud: CloudSettings, stack: StackManager) -> None:
    mailer = SesMailer(build_ses(cloud), cloud.mail_from)
    message_id = mailer.send(
        OutgoingMail(to="kim@example.com", subject="Kvitto 42", text="Tack", html="<p>Tack</p>")
    )
    [mail] = sent_mail(stack.config)
    assert mail["id"] == message_id
    assert mail["subject"] == "Kvitto 42"
    assert mail["destinations"]["ToAddresses"] == ["kim@example.com"]
    assert mail["source"] == cloud.mail_from


def test_reset_empties_the_mailbox(cloud: CloudSettings, stack: StackManager) -> None:
    SesMailer(build_ses(cloud), cloud.mail_from).send(
        OutgoingMail(to="a@example.com", subject="s", text="t", html="<p>t</p>")
    )
    assert len(sent_mail(stack.config)) == 1
    stack.reset()
    assert sent_mail(StackConfig.model_validate(stack.config.model_dump())) == []
