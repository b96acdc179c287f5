"""The account page's files and view, through the API's request handling (no browser):
language choice, the Content-Security-Policy, nothing inline or secret, the page's own
origin allowed for its POSTs, and a view worded and formatted as the receipts are."""

from __future__ import annotations

import json
import re
from typing import Any, cast

from refrain.account.documents import AccountDocuments
from refrain.account.models import InvoicePage
from refrain.account.page import AccountPage, choose_language
from refrain.account.routes import Request, Response
from refrain.account.view import AccountView
from refrain.domain import load_catalog
from refrain.invoicing.i18n import localizer_for
from refrain.invoicing.messages import MESSAGES
from tests.unit.account.test_routes import ORIGIN, Rig, rig

PAGE = "/v1/account-page/"


class NoInvoices:
    def invoices(self, account_id: str, token: str | None, size: str | None) -> InvoicePage:
        return InvoicePage(invoices=[])


def page_rig(emulator: str | None = "127.0.0.1:9606") -> Rig:
    r = rig()
    r.api.page = AccountPage(api_key="public-web-key", emulator_host=emulator)
    r.api.view = AccountView(r.api.service, cast(AccountDocuments, NoInvoices()), load_catalog())
    return r


def view(r: Rig, token: str | None = "acct_1", **query: str) -> Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    path = "/v1/me/account-view"
    return r.api.handle(Request.make("GET", path, headers.items(), b"", query=query.items()))


def test_language_is_the_query_else_the_browsers_else_english() -> None:
    assert choose_language("de-CH,de;q=0.9,en;q=0.5") == "de_CH"
    assert choose_language("xx,fr;q=0.4,sv;q=0.8") == "sv"  # by q; xx is no language
    assert choose_language("de", "pt-BR") == "pt_BR"
    assert choose_language("ko-KR") == "en"  # no Korean catalogue: English, as receipts
    assert choose_language("", "../../etc") == "en"


def test_the_page_is_static_worded_with_a_strict_policy_and_nothing_inline() -> None:
    r = page_rig()
    shown = r.call("GET", PAGE, token=None, Accept_Language="sv-SE,sv;q=0.9")
    assert shown.status == 200 and shown.content_type.startswith("text/html")
    html = (shown.data or b"").decode()
    policy = shown.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    assert "connect-src 'self' http://127.0.0.1:9606;" in policy
    assert "frame-ancestors 'none'" in policy and shown.headers["Content-Language"] == "sv-SE"
    assert re.findall(r"<script[^>]*>", html) == ['<script src="page.js" defer>']
    assert " style=" not in html
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no inline event handlers
    assert MESSAGES["sv"]["page_sign_in"] in html and "{{" not in html
    assert 'data-api-key="public-web-key"' in html  # public by design, nothing else
    assert 'data-identity-url="http://127.0.0.1:9606/identitytoolkit.googleapis.com/v1"' in html


def test_in_the_cloud_it_signs_in_at_google() -> None:
    shown = page_rig(emulator=None).call("GET", PAGE, token=None)
    policy = shown.headers["Content-Security-Policy"]
    assert "https://identitytoolkit.googleapis.com https://securetoken.googleapis.com" in policy
    assert "http:" not in policy


def test_static_files_redirect_and_unknown_paths() -> None:
    r = page_rig()
    script = r.call("GET", PAGE + "page.js", token=None)
    assert script.status == 200 and script.content_type.startswith("text/javascript")
    assert b"innerHTML" not in (script.data or b"")  # text is placed, never parsed as HTML
    assert r.call("GET", "/v1/account-page", token=None).headers["Location"] == "account-page/"
    assert r.call("GET", PAGE + "../../main.py", token=None).status == 404
    assert r.call("GET", PAGE + "secrets.txt", token=None).status == 404
    assert r.call("POST", PAGE, token=None).status == 405


def test_the_pages_own_origin_may_post_and_others_still_may_not() -> None:
    r = page_rig()
    own = r.call("POST", "/v1/me/subscriptions/sub_1/cancel", {}, Origin="http://api.test",
                 Host="api.test", Idempotency_Key="key-000001")  # fmt: skip
    assert own.status == 200, own.body
    other = r.call("POST", "/v1/me/subscriptions/sub_1/revert-cancel", {},
                   Origin="https://evil.example", Host="api.test",
                   Idempotency_Key="key-000002")  # fmt: skip
    assert other.status == 403
    assert r.call("GET", "/v1/me/entitlement", Origin=ORIGIN).status == 200


def test_the_view_words_and_formats_as_the_receipts_do() -> None:
    r = page_rig()
    shown = json.loads(view(r, lang="de").body)
    assert view(r, token=None).status == 401
    de = localizer_for("de", "en")
    (sub,) = shown["subscriptions"]
    assert (shown["locale"], sub["status_label"]) == ("de", "Aktiv")
    assert de.money(r.accounts.subscriptions("acct_1")[0].price) in sub["next_charge_label"]
    assert sub["can_cancel"] and not sub["can_undo_cancel"] and sub["ends_label"] is None
    assert "family_monthly" in {o["plan"] for o in sub["plan_options"]}

    r.call("POST", "/v1/me/subscriptions/sub_1/cancel", {}, Idempotency_Key="key-000003")
    after: dict[str, Any] = json.loads(view(r, lang="de").body)
    (sub,) = after["subscriptions"]
    end = r.accounts.subscriptions("acct_1")[0].current_period_end
    assert end is not None
    assert sub["ends_label"] == f"Endet am {de.date(end)}" and sub["can_undo_cancel"]
    assert sub["next_charge_label"] is None and sub["plan_options"] == []


def test_the_preview_is_one_sentence_in_the_readers_language() -> None:
    r = page_rig()
    preview = json.loads(view(r, lang="sv", subscription="sub_1", plan="family_monthly").body)
    shown = preview["preview"]
    renewal = localizer_for("sv", "en").money(load_catalog().price("family_monthly", "SE"))
    assert shown["allowed"] and shown["text"].startswith("Du betalar ")
    assert shown["text"].endswith(f"betalar du {renewal}.")  # as the receipts write 239,00 kr
    assert view(r, lang="sv", subscription="sub_1", plan="../x").status == 400
    assert view(r, subscription="sub_other", plan="family_monthly").status == 404
