# ruff: noqa: E501 - translated sentences
"""The price-change notice's sentences, per language (merged into messages.MESSAGES).

Kept beside the main catalogue so the notices of one feature read together; the unit
test that checks every language has every key and the same placeholders covers them.
"""

from __future__ import annotations

from typing import Final

PRICE_CHANGE: Final[dict[str, dict[str, str]]] = {
    "en": {
        "subject_price_change": "Your Refrain price is changing",
        "price_change_body": "The price of your {plan} subscription changes from {old} to {new}.",
        "price_change_from": "Your first payment at the new price is on {date}; until then nothing changes.",
        "price_change_consent": "To keep your subscription at the new price, please agree before {date}. Without your agreement it ends on {date}.",
        "price_change_no_action": "You don't need to do anything. You can cancel any time before {date}.",
        "price_change_action": "Review your subscription",
    },
    "sv": {
        "subject_price_change": "Priset på Refrain ändras",
        "price_change_body": "Priset för ditt abonnemang {plan} ändras från {old} till {new}.",
        "price_change_from": "Din första betalning till det nya priset sker den {date}; fram till dess ändras ingenting.",
        "price_change_consent": "Godkänn det nya priset före den {date} för att behålla ditt abonnemang. Utan ditt godkännande avslutas det den {date}.",
        "price_change_no_action": "Du behöver inte göra något. Du kan säga upp abonnemanget när som helst före den {date}.",
        "price_change_action": "Se ditt abonnemang",
    },
    "de": {
        "subject_price_change": "Der Preis deines Refrain-Abos ändert sich",
        "price_change_body": "Der Preis deines Abos {plan} ändert sich von {old} auf {new}.",
        "price_change_from": "Deine erste Zahlung zum neuen Preis ist am {date}; bis dahin ändert sich nichts.",
        "price_change_consent": "Um dein Abo zum neuen Preis zu behalten, stimme bitte vor dem {date} zu. Ohne deine Zustimmung endet es am {date}.",
        "price_change_no_action": "Du musst nichts tun. Du kannst jederzeit vor dem {date} kündigen.",
        "price_change_action": "Dein Abo ansehen",
    },
    "fr": {
        "subject_price_change": "Le prix de votre abonnement Refrain change",
        "price_change_body": "Le prix de votre abonnement {plan} passe de {old} à {new}.",
        "price_change_from": "Votre premier paiement au nouveau prix aura lieu le {date} ; d'ici là, rien ne change.",
        "price_change_consent": "Pour conserver votre abonnement au nouveau prix, donnez votre accord avant le {date}. Sans votre accord, il prendra fin le {date}.",
        "price_change_no_action": "Vous n'avez rien à faire. Vous pouvez résilier à tout moment avant le {date}.",
        "price_change_action": "Voir votre abonnement",
    },
    "ja": {
        "subject_price_change": "Refrain の料金が変更されます",
        "price_change_body": "{plan} のサブスクリプション料金が {old} から {new} に変更されます。",
        "price_change_from": "新しい料金での最初のお支払いは {date} です。それまでは何も変わりません。",
        "price_change_consent": "新しい料金でサブスクリプションを継続するには、{date} までに同意してください。同意がない場合、サブスクリプションは {date} に終了します。",
        "price_change_no_action": "お手続きは不要です。{date} まではいつでも解約できます。",
        "price_change_action": "サブスクリプションを確認",
    },
    "pt_BR": {
        "subject_price_change": "O preço do seu Refrain vai mudar",
        "price_change_body": "O preço da sua assinatura {plan} muda de {old} para {new}.",
        "price_change_from": "Seu primeiro pagamento com o novo preço será em {date}; até lá, nada muda.",
        "price_change_consent": "Para manter sua assinatura com o novo preço, dê seu consentimento antes de {date}. Sem ele, a assinatura será encerrada em {date}.",
        "price_change_no_action": "Você não precisa fazer nada. Pode cancelar a qualquer momento antes de {date}.",
        "price_change_action": "Ver sua assinatura",
    },
    "es_MX": {
        "subject_price_change": "El precio de tu Refrain va a cambiar",
        "price_change_body": "El precio de tu suscripción {plan} cambia de {old} a {new}.",
        "price_change_from": "Tu primer pago con el nuevo precio será el {date}; hasta entonces, nada cambia.",
        "price_change_consent": "Para conservar tu suscripción con el nuevo precio, acéptalo antes del {date}. Sin tu aceptación, terminará el {date}.",
        "price_change_no_action": "No tienes que hacer nada. Puedes cancelar cuando quieras antes del {date}.",
        "price_change_action": "Ver tu suscripción",
    },
}
