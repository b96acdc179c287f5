"""The message catalogue and locale resolution."""

from __future__ import annotations

import string

import pytest

from refrain.domain import load_catalog
from refrain.invoicing.i18n import localizer_for, normalize_locale
from refrain.invoicing.messages import MESSAGES

REQUIRED = {"en", "sv", "de", "fr", "ja", "pt_BR", "es_MX"}


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_required_languages_are_present() -> None:
    assert set(MESSAGES) >= REQUIRED


@pytest.mark.parametrize("language", sorted(MESSAGES))
def test_every_language_has_every_key_with_the_same_placeholders(language: str) -> None:
    english = MESSAGES["en"]
    assert set(MESSAGES[language]) == set(english)
    for key, template in MESSAGES[language].items():
        assert fields(template) == fields(english[key]), key


def test_tiers_and_intervals_of_the_catalog_are_translated() -> None:
    catalog = load_catalog()
    for plan in catalog.plans.values():
        assert f"tier_{plan.tier}" in MESSAGES["en"]
        assert f"interval_{plan.interval.value}" in MESSAGES["en"]


@pytest.mark.parametrize(
    ("requested", "default", "language", "format_locale"),
    [
        ("pt-BR", "en_US", "pt_BR", "pt_BR"),
        ("es_ES", "es_ES", "es_MX", "es_ES"),  # Spanish text, Spanish formatting
        ("de_CH", "de_CH", "de", "de_CH"),
        (None, "sv_SE", "sv", "sv_SE"),  # market default
        ("klingon", "fr_FR", "fr", "fr_FR"),  # unknown locale: market default
        ("ar_KW", "ar_KW", "en", "en"),  # no Arabic text yet: English throughout
        ("nb_NO", "nb_NO", "en", "en"),
    ],
)
def test_resolution(requested: str | None, default: str, language: str, format_locale: str) -> None:
    loc = localizer_for(requested, default)
    assert (loc.language, loc.format_locale) == (language, format_locale)


def test_normalize_refuses_garbage() -> None:
    assert normalize_locale("pt-br") == "pt_BR"
    assert normalize_locale("") is None
    assert normalize_locale("zz_ZZ_zz") is None
