"""The raw MIME message SES sends: text and HTML alternatives plus a PDF.

Structure: multipart/mixed [ multipart/alternative [text/plain, text/html],
application/pdf ]. Headers with non-ASCII text (a Japanese subject, a sender
display name) are RFC 2047 encoded by the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr

from refrain.invoicing.render import RenderedMail

__all__ = ["Attachment", "build_mime"]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


def build_mime(
    *,
    sender: str,
    sender_name: str | None,
    to: str,
    mail: RenderedMail,
    attachments: tuple[Attachment, ...] = (),
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((sender_name, sender)) if sender_name else sender
    message["To"] = to
    message["Subject"] = mail.subject
    for key, value in (headers or {}).items():
        message[key] = value
    message.set_content(mail.text, subtype="plain", charset="utf-8")
    message.add_alternative(mail.html, subtype="html", charset="utf-8")
    for attachment in attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
        )
    return message.as_bytes()
