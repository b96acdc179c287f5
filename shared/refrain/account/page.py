"""The account page: a static page the account API serves itself, at ``/v1/account-page/``.

Three files in ``page/`` (HTML, one script, one style sheet), no build step, no framework:

* the HTML is filled in on the server with the page's sentences from the receipts'
  catalogue, in the language ``?lang=`` names or else the browser's ``Accept-Language``
  (the receipts' languages; anything else reads English), and with the public sign-in
  settings as ``data-`` attributes: the Firebase web API key (public by design: it names
  the project, it grants nothing) and the Identity Toolkit / Secure Token endpoints
  (Google's in the cloud, the Auth emulator's on the local stack). Nothing secret.
* ``page.js`` signs in with e-mail and password through Firebase Authentication's REST
  API (the calls the Firebase JS SDK makes), keeps the ID token in the tab's
  sessionStorage, and calls this API on the same origin with it; every amount, date and
  sentence it shows comes worded from ``GET /v1/me/account-view`` (refrain.account.view).
* A strict Content-Security-Policy: scripts and styles from this origin only, no inline
  script or style, network calls only to this origin and the sign-in endpoints.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel import Locale

from refrain.invoicing.i18n import Localizer, localizer_for, normalize_locale
from refrain.invoicing.messages import MESSAGES

PREFIX = "/v1/account-page"
_FILES = Path(__file__).with_name("page")
_STATIC = {
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_SLOT = re.compile(r"\{\{(\w+)\}\}")
GOOGLE_IDENTITY = "https://identitytoolkit.googleapis.com"
GOOGLE_SECURE_TOKEN = "https://securetoken.googleapis.com"  # noqa: S105 - an address


@dataclass(frozen=True, slots=True)
class PageAnswer:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]


@dataclass(frozen=True)
class AccountPage:
    api_key: str  # the public Firebase web API key ("" leaves sign-in impossible)
    emulator_host: str | None = None  # the Auth emulator (local stack only)

    @property
    def identity_url(self) -> str:
        if self.emulator_host:
            return f"http://{self.emulator_host}/identitytoolkit.googleapis.com/v1"
        return f"{GOOGLE_IDENTITY}/v1"

    @property
    def token_url(self) -> str:
        if self.emulator_host:
            return f"http://{self.emulator_host}/securetoken.googleapis.com/v1"
        return f"{GOOGLE_SECURE_TOKEN}/v1"

    @property
    def policy(self) -> str:
        sign_in = f"http://{self.emulator_host}" if self.emulator_host else (
            f"{GOOGLE_IDENTITY} {GOOGLE_SECURE_TOKEN}"
        )  # fmt: skip
        return (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"connect-src 'self' {sign_in}; form-action 'none'; base-uri 'none'; "
            "frame-ancestors 'none'"
        )

    def answer(
        self, method: str, path: str, accept_language: str = "", lang: str | None = None
    ) -> PageAnswer | None:
        """The page's answer to a request under :data:`PREFIX`; None for any other path."""
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return None
        if method not in ("GET", "HEAD"):
            return PageAnswer(405, b"", "text/plain", {"Allow": "GET, HEAD"})
        rest = path.removeprefix(PREFIX)
        if rest == "":  # relative links need the trailing slash
            return PageAnswer(308, b"", "text/plain", {"Location": "account-page/"})
        name = rest.removeprefix("/")
        common = {
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": self.policy,
        }
        if name in _STATIC:
            cached = {**common, "Cache-Control": "public, max-age=300"}
            return PageAnswer(200, _file(name), _STATIC[name], cached)
        if name not in ("", "index.html"):
            return PageAnswer(404, b"Not found", "text/plain", common)
        loc = localizer_for(choose_language(accept_language, lang), "en")
        return PageAnswer(200, self.render(loc), "text/html; charset=utf-8", {
            **common, "Cache-Control": "no-cache", "Content-Language": loc.locale.replace("_", "-"),
            "Vary": "Accept-Language",
        })  # fmt: skip

    def render(self, loc: Localizer) -> bytes:
        values = {
            "lang": loc.locale.replace("_", "-"),
            "locale": loc.locale,
            "api_key": self.api_key,
            "identity_url": self.identity_url,
            "token_url": self.token_url,
            "languages": _language_links(loc.language),
        }

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key == "languages":
                return values[key]  # built from escaped parts
            return html.escape(values[key] if key in values else loc.t(key), quote=True)

        return _SLOT.sub(fill, _file("index.html").decode()).encode()


def choose_language(accept_language: str, lang: str | None = None) -> str:
    """``?lang=`` if it names a language of the catalogue, else the first such in
    ``Accept-Language`` (by q), else English."""
    asked = [(lang or "")[:35], *_accept_language(accept_language)]
    for tag in asked:
        if not tag:
            continue
        locale = normalize_locale(tag)
        if locale is None:
            continue
        if localizer_for(locale, "en").language != "en" or locale.startswith("en"):
            return locale
    return "en"


def _accept_language(header: str) -> list[str]:
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and tag != "*" and q > 0:
            ranked.append((-q, i, tag[:35]))
    return [tag for _, _, tag in sorted(ranked)]


def _language_links(current: str) -> str:
    links = []
    for language in MESSAGES:
        name = Locale.parse(language).get_display_name(language) or language
        tag = html.escape(language.replace("_", "-"))
        mark = ' aria-current="true"' if language == current else ""
        links.append(f'<a href="?lang={tag}" hreflang="{tag}"{mark}>{html.escape(name)}</a>')
    return "\n      ".join(links)


@cache
def _file(name: str) -> bytes:
    return (_FILES / name).read_bytes()
