// The account page's only script: sign in with Firebase Authentication (its REST API,
// the calls the Firebase JS SDK makes), then show and change the subscription through
// the account API on this origin. Every sentence, amount and date arrives worded from
// GET /v1/me/account-view; this script places text (never HTML) and sends actions.
"use strict";

(function () {
  const body = document.body;
  const config = {
    apiKey: body.dataset.apiKey,
    identityUrl: body.dataset.identityUrl,
    tokenUrl: body.dataset.tokenUrl,
    locale: body.dataset.locale,
  };
  const SESSION = "refrain.account.session";
  const $ = (id) => document.getElementById(id);

  // -- Firebase Authentication -----------------------------------------------------

  function saveSession(answer, email) {
    const session = {
      idToken: answer.idToken || answer.id_token,
      refreshToken: answer.refreshToken || answer.refresh_token,
      expiresAt: Date.now() + 1000 * Number(answer.expiresIn || answer.expires_in || 3600),
      email: email,
    };
    sessionStorage.setItem(SESSION, JSON.stringify(session));
    return session;
  }

  function session() {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION) || "null");
    } catch (e) {
      return null;
    }
  }

  async function signIn(email, password) {
    const url = `${config.identityUrl}/accounts:signInWithPassword?key=${encodeURIComponent(config.apiKey)}`;
    const answer = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: email, password: password, returnSecureToken: true }),
    });
    if (!answer.ok) throw new Error("sign-in");
    return saveSession(await answer.json(), email);
  }

  async function idToken() {
    const current = session();
    if (!current) throw new Error("signed-out");
    if (current.expiresAt - Date.now() > 60000) return current.idToken;
    const url = `${config.tokenUrl}/token?key=${encodeURIComponent(config.apiKey)}`;
    const answer = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: current.refreshToken }),
    });
    if (!answer.ok) throw new Error("signed-out");
    return saveSession(await answer.json(), current.email).idToken;
  }

  function signOut() {
    sessionStorage.removeItem(SESSION);
    show("sign-in");
  }

  // -- the account API ---------------------------------------------------------------

  function idempotencyKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function api(path, options) {
    const headers = { Authorization: `Bearer ${await idToken()}` };
    const init = { method: "GET", headers: headers };
    if (options && options.post) {
      init.method = "POST";
      headers["Content-Type"] = "application/json";
      headers["Idempotency-Key"] = idempotencyKey();
      init.body = JSON.stringify(options.post);
    }
    const answer = await fetch(`../${path}`, init);
    if (answer.status === 401) {
      signOut();
      throw new Error("signed-out");
    }
    if (!answer.ok) throw new Error(`status ${answer.status}`);
    return answer;
  }

  function viewPath(extra) {
    const query = new URLSearchParams({ lang: config.locale, ...(extra || {}) });
    return `me/account-view?${query}`;
  }

  // -- rendering ---------------------------------------------------------------------

  function show(id) {
    $("sign-in").hidden = id !== "sign-in";
    $("account").hidden = id !== "account";
  }

  function say(text) {
    $("message").textContent = text || "";
    $("message").hidden = !text;
  }

  function fill(node, selector, text) {
    const target = node.querySelector(selector);
    target.textContent = text || "";
    return target;
  }

  function renderSubscription(sub) {
    const card = $("subscription-template").content.firstElementChild.cloneNode(true);
    card.dataset.subscription = sub.id;
    fill(card, ".plan", sub.plan_label);
    fill(card, ".status", sub.status_label);
    fill(card, ".next-charge", sub.next_charge_label);
    card.querySelector(".next-charge").hidden = !sub.next_charge_label;
    card.querySelector(".next-charge-label").hidden = !sub.next_charge_label;
    fill(card, ".ends", sub.ends_label).hidden = !sub.ends_label;
    const cancel = card.querySelector(".cancel");
    cancel.hidden = !sub.can_cancel;
    cancel.addEventListener("click", () => act(sub.id, "cancel", {}));
    const undo = card.querySelector(".undo-cancel");
    undo.hidden = !sub.can_undo_cancel;
    undo.addEventListener("click", () => act(sub.id, "revert-cancel", {}));
    const form = card.querySelector(".change-plan");
    form.hidden = sub.plan_options.length === 0;
    const choice = card.querySelector(".plan-choice");
    for (const option of sub.plan_options) {
      choice.add(new Option(option.label, option.plan));
    }
    const confirm = card.querySelector(".confirm-change");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      preview(card, sub.id, choice.value);
    });
    choice.addEventListener("change", () => {
      confirm.hidden = true;
      fill(card, ".preview-text", "");
    });
    confirm.addEventListener("click", () => act(sub.id, "change-plan", { plan: choice.value }));
    return card;
  }

  function renderInvoice(invoice) {
    const row = $("invoice-template").content.firstElementChild.cloneNode(true);
    fill(row, ".title", invoice.title);
    fill(row, ".number", invoice.number);
    fill(row, ".date", invoice.date);
    fill(row, ".amount", invoice.amount);
    const link = row.querySelector(".pdf");
    link.addEventListener("click", (event) => {
      event.preventDefault();
      download(invoice).catch(failed);
    });
    return row;
  }

  function render(view) {
    const current = session();
    $("who").textContent = current ? current.email : "";
    $("subscriptions").replaceChildren(...view.subscriptions.map(renderSubscription));
    $("no-subscription").hidden = view.subscriptions.length > 0;
    $("invoices").tBodies[0].replaceChildren(...view.invoices.map(renderInvoice));
    $("no-invoices").hidden = view.invoices.length > 0;
    show("account");
  }

  // -- what the subscriber does ------------------------------------------------------

  function failed(error) {
    if (error && error.message === "signed-out") return;
    say(body.dataset.msgError);
  }

  async function load() {
    say("");
    const answer = await api(viewPath());
    render(await answer.json());
  }

  async function act(subscription, action, post) {
    say("");
    body.setAttribute("aria-busy", "true");
    try {
      await api(`me/subscriptions/${encodeURIComponent(subscription)}/${action}`, { post: post });
      await load();
    } catch (error) {
      failed(error);
    } finally {
      body.removeAttribute("aria-busy");
    }
  }

  async function preview(card, subscription, plan) {
    say("");
    try {
      const answer = await api(viewPath({ subscription: subscription, plan: plan }));
      const shown = (await answer.json()).preview;
      fill(card, ".preview-text", shown.text);
      card.querySelector(".confirm-change").hidden = !shown.allowed;
    } catch (error) {
      failed(error);
    }
  }

  async function download(invoice) {
    const answer = await api(invoice.pdf);
    const url = URL.createObjectURL(await answer.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = `${invoice.number}.pdf`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    try {
      await signIn($("email").value, $("password").value);
      $("password").value = "";
    } catch (error) {
      say(body.dataset.msgSignInFailed);
      return;
    }
    load().catch(failed);
  });
  $("sign-out").addEventListener("click", signOut);

  if (session()) {
    load().catch((error) => {
      failed(error);
      if ($("account").hidden) show("sign-in");
    });
  } else {
    show("sign-in");
  }
})();
