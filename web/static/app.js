// Progressive touches: pages work without this file, except where noted on the page.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// An invitation's token travels in the link's fragment, which never reaches the server's
// logs; the form takes it from there.
function fillFromFragment() {
  const field = document.querySelector("[data-from-fragment]");
  if (field && !field.value && location.hash.length > 1) field.value = decodeURIComponent(location.hash.slice(1));
}

// A rough strength estimate while typing; the server has the last word and says why.
function strengthMeter() {
  const input = document.getElementById("password");
  const meter = document.getElementById("strength");
  if (!input || !meter) return;
  input.addEventListener("input", () => {
    const value = input.value;
    const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(value)).length;
    const words = value.trim().split(/\s+/).filter((w) => w.length > 2).length;
    let score = value.length >= 12 ? 2 : value.length >= 8 ? 1 : 0;
    if (classes >= 3 || words >= 3) score += 1;
    if (value.length >= 20) score += 1;
    meter.value = Math.min(score, 4);
  });
}

// Uploads with a progress bar and a drop zone; the CSRF token goes in its header.
function uploads() {
  document.querySelectorAll("[data-upload]").forEach(uploadForm);
}

function uploadForm(form) {
  const input = form.querySelector('input[type="file"]');
  const progress = form.querySelector("[data-progress]");
  const status = form.querySelector("[data-status]");
  const drop = form.querySelector("[data-drop]");
  const send = (file) => {
    const body = new FormData();
    // The title and privileged mark, where the form asks for them, go before the file.
    const title = form.querySelector('[name="title"]');
    if (title && title.value.trim()) body.append("title", title.value.trim());
    const privileged = form.querySelector('[name="privileged"]');
    if (privileged && privileged.checked) body.append("privileged", "true");
    body.append("file", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("x-csrf-token", csrfToken());
    progress.hidden = false;
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
    });
    request.addEventListener("load", () => {
      if (request.status === 201) {
        status.textContent = "Uploaded.";
        location.reload();
      } else {
        let message = "The upload failed.";
        try { message = JSON.parse(request.responseText).error.message; } catch (_) { /* keep the plain message */ }
        status.textContent = message;
      }
    });
    request.addEventListener("error", () => { status.textContent = "The upload failed: the connection was lost."; });
    status.textContent = "Uploading…";
    request.send(body);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.files.length) send(input.files[0]);
  });
  if (!drop) return;
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) send(event.dataTransfer.files[0]);
  });
}

// JSON calls to the API, with the CSRF token; a refusal becomes an Error with the
// server's message.
async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-csrf-token": csrfToken() },
    body: JSON.stringify(body),
  });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((data.error && data.error.message) || "The request failed.");
  return data;
}

// Passkeys: the server's WebAuthn options are JSON, which the browser parses and answers.
function passkeysWork() {
  return Boolean(window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON);
}

async function askForPasskey(options) {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
  const credential = await navigator.credentials.get({ publicKey });
  return credential.toJSON();
}

function withPasskey(box, work) {
  const status = box.querySelector("[data-status]");
  return async (event) => {
    if (event) event.preventDefault();
    status.textContent = "Waiting for your passkey…";
    try {
      await work();
    } catch (error) {
      status.textContent = error.name === "NotAllowedError"
        ? "The passkey prompt was closed or timed out. Try again."
        : error.message;
    }
  };
}

// Sign-in page: a passkey alone (it verifies its user with a PIN or biometric).
function passkeySignIn() {
  const box = document.querySelector("[data-passkey-sign-in]");
  if (!box || !passkeysWork()) return;
  box.hidden = false;
  box.querySelector("button").addEventListener("click", withPasskey(box, async () => {
    const started = await postJson("/api/v1/auth/passkey/start", {});
    const credential = await askForPasskey(started.options);
    await postJson("/api/v1/auth/passkey/finish", { ceremony_id: started.ceremony_id, credential, cookie: true });
    location.assign("/home");
  }));
}

// Second step of a password sign-in: the passkey as the second factor.
function passkeyCheck() {
  const box = document.querySelector("[data-passkey-check]");
  if (!box) return;
  if (!passkeysWork()) {
    box.querySelector("[data-status]").textContent = "This browser cannot use passkeys: enter a code instead.";
    return;
  }
  const challengeId = box.dataset.passkeyCheck;
  box.querySelector("button").addEventListener("click", withPasskey(box, async () => {
    const { options } = await postJson("/api/v1/auth/passkey-options", { challenge_id: challengeId });
    const credential = await askForPasskey(options);
    await postJson("/api/v1/auth/verify", { challenge_id: challengeId, factor: "passkey", credential, cookie: true });
    location.assign("/home");
  }));
}

// Matter page: the section bar names the section in view (the one whose heading was last
// scrolled past under the bar), for readers and for screen readers alike.
function sectionInView() {
  const links = Array.from(document.querySelectorAll("nav.sections a[href^='#']"));
  const headings = links.map((link) => document.getElementById(link.hash.slice(1))).filter(Boolean);
  if (headings.length !== links.length || !headings.length) return;
  const mark = () => {
    const bar = document.querySelector("nav.sections").getBoundingClientRect().bottom;
    let current = 0;
    headings.forEach((heading, i) => { if (heading.getBoundingClientRect().top <= bar + 8) current = i; });
    // A section chosen from the bar near the page's end cannot scroll up to it: while its
    // heading is on screen, it is the one in view.
    const chosen = links.findIndex((link) => link.hash === location.hash);
    if (chosen > current && headings[chosen].getBoundingClientRect().top < window.innerHeight) current = chosen;
    links.forEach((link, i) => {
      if (i === current) link.setAttribute("aria-current", "location");
      else link.removeAttribute("aria-current");
    });
  };
  mark();
  document.addEventListener("scroll", mark, { passive: true });
  window.addEventListener("hashchange", mark);
}

// Reset page: what the link asks for decides what the form shows (a code, a passkey or,
// for a link an administrator sent to an account with neither, nothing more); a passkey
// answers through the API.
function resetPage() {
  const form = document.querySelector("[data-reset]");
  if (!form) return;
  const token = form.querySelector("[name=token]").value;
  const status = document.querySelector("[data-reset-status]");
  const code = form.querySelector("[data-reset-code]");
  const box = form.querySelector("[data-reset-passkey]");
  postJson("/api/v1/auth/password-reset/factors", { token }).then(({ factors }) => {
    const totp = factors.includes("totp");
    const passkey = factors.includes("passkey");
    code.hidden = !totp;
    form.querySelector("#code").required = totp && !passkey;
    form.querySelector("[data-reset-submit]").hidden = passkey && !totp;
    if (passkey) {
      box.hidden = false;
      if (!passkeysWork()) box.querySelector("[data-status]").textContent = "This browser cannot use passkeys.";
    }
  }).catch((error) => {
    status.textContent = error.message;
    form.hidden = true;
  });
  box.querySelector("button").addEventListener("click", withPasskey(box, async () => {
    const password = form.querySelector("#password");
    if (!password.reportValidity()) throw new Error("Type the new password first.");
    const { options } = await postJson("/api/v1/auth/password-reset/passkey-options", { token });
    const credential = await askForPasskey(options);
    await postJson("/api/v1/auth/password-reset/complete", { token, password: password.value, factor: "passkey", credential });
    form.hidden = true;
    status.textContent = "Your password is set, and every session of yours is signed out.";
    document.querySelector("[data-reset-done]").hidden = false;
  }));
}

// Account page: adding a passkey.
function passkeyRegister() {
  const form = document.querySelector("[data-passkey-register]");
  if (!form || !window.PublicKeyCredential || !PublicKeyCredential.parseCreationOptionsFromJSON) return;
  form.hidden = false;
  form.addEventListener("submit", withPasskey(form, async () => {
    const password = form.querySelector('[name="current_password"]');
    const started = await postJson("/api/v1/me/passkeys/options", { current_password: password.value });
    password.value = "";
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(started.options.publicKey);
    const created = await navigator.credentials.create({ publicKey });
    const name = form.querySelector('[name="name"]').value;
    await postJson("/api/v1/me/passkeys", { ceremony_id: started.ceremony_id, name, credential: created.toJSON() });
    location.assign("/account?done=passkey");
  }));
}

// Typed text survives the end of a session. Before a form is sent, the session is checked;
// when it has ended (idle for too long, or ended elsewhere) the fields stay in this tab
// (sessionStorage) and come back when the person returns to the page after signing in.
const UNSENT = "ringfence.unsent";

function keptFields(form) {
  return Array.from(form.elements)
    .filter((f) => f.name && f.name !== "_csrf" && !["password", "file", "hidden", "submit"].includes(f.type))
    .map((f) => [f.name, f.type === "checkbox" || f.type === "radio" ? f.checked : f.value, f.value]);
}

function keep(form) {
  sessionStorage.setItem(UNSENT, JSON.stringify({ path: location.pathname, action: form.getAttribute("action"), fields: keptFields(form) }));
}

function keepTypedText() {
  document.querySelectorAll('form[method="post"]').forEach((form) => {
    if (!form.querySelector('[name="_csrf"]') || form.matches(".sign-out") || !keptFields(form).length) return;
    form.addEventListener("submit", async (event) => {
      if (form.dataset.checked) return;
      event.preventDefault();
      let alive = true;
      try {
        // The operator's pages name their own session's probe.
        const probe = document.body.dataset.sessionProbe ?? "/api/v1/me";
        alive = (await fetch(probe, { headers: { accept: "application/json" } })).status !== 401;
      } catch (_) { /* offline: let the browser try and say so */ }
      if (alive) {
        form.dataset.checked = "yes";
        form.requestSubmit(event.submitter);
        return;
      }
      keep(form);
      const notice = document.createElement("p");
      notice.className = "problem";
      notice.setAttribute("role", "alert");
      notice.innerHTML = 'Your session has ended. What you typed is kept in this tab: <a href="/sign-in">sign in again</a> and come back to this page to find it filled in.';
      form.prepend(notice);
    });
  });
}

// True when the person has changed a field of the form from what the page came with.
function edited(form) {
  return Array.from(form.elements).some((f) =>
    f.type === "checkbox" || f.type === "radio" ? f.checked !== f.defaultChecked
      : f.tagName === "SELECT" ? Array.from(f.options).some((o) => o.selected !== o.defaultSelected)
      : f.type !== "hidden" && f.type !== "password" && f.type !== "file" && "defaultValue" in f && f.value !== f.defaultValue);
}

// After the session's idle time the server has ended it: keep what was typed and go back
// to signing in, rather than leaving a page whose next click would fail.
function idleTimeout() {
  const meta = document.querySelector('meta[name="session-idle-seconds"]');
  const seconds = meta ? Number(meta.content) : 0;
  if (!seconds) return;
  // Only requests keep a session alive, and every page load is one: the clock starts here.
  setTimeout(() => {
    const form = Array.from(document.querySelectorAll('form[method="post"]')).find(edited);
    if (form) keep(form);
    location.assign("/sign-in");
  }, seconds * 1000 + 5000);
}

function restoreTypedText() {
  const saved = JSON.parse(sessionStorage.getItem(UNSENT) || "null");
  if (!saved) return;
  const main = document.getElementById("main");
  if (saved.path !== location.pathname) {
    if (location.pathname === "/sign-in" || !main) return;
    const back = document.createElement("p");
    back.className = "notice";
    back.setAttribute("role", "status");
    back.append("You were typing something that was not sent: ");
    const link = document.createElement("a");
    link.href = saved.path;
    link.textContent = "go back to it";
    back.append(link, ".");
    main.prepend(back);
    return;
  }
  const form = Array.from(document.querySelectorAll('form[method="post"]')).find((f) => f.getAttribute("action") === saved.action);
  if (!form) return;
  for (const [name, value, option] of saved.fields) {
    const field = Array.from(form.elements).find((f) => f.name === name && (f.type !== "radio" || f.value === option));
    if (!field) continue;
    if (field.type === "checkbox" || field.type === "radio") field.checked = value;
    else field.value = value;
  }
  sessionStorage.removeItem(UNSENT);
  const notice = document.createElement("p");
  notice.className = "notice";
  notice.setAttribute("role", "status");
  notice.textContent = "What you typed before signing in again is filled in below: check it and send it.";
  form.prepend(notice);
  // A form kept behind a disclosure is opened to show what was filled back in.
  const folded = form.closest("details");
  if (folded) folded.open = true;
  form.scrollIntoView();
}

// At phone width the main menu folds behind one button (without this script it wraps).
function foldingMenu() {
  const nav = document.querySelector("header nav");
  if (!nav) return;
  nav.id = "main-menu";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "menu-toggle";
  button.textContent = "Menu";
  button.setAttribute("aria-controls", nav.id);
  button.setAttribute("aria-expanded", "false");
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
  nav.before(button);
}

// Each cell carries its column's heading, so that at phone width a table's rows read as
// cards ("Status: open") rather than scrolling sideways.
function labelledCells() {
  document.querySelectorAll("table.list").forEach((table) => {
    // A heading only screen readers get (a column of buttons) labels nothing.
    const visible = (th) => {
      const copy = th.cloneNode(true);
      copy.querySelectorAll(".visually-hidden").forEach((hidden) => hidden.remove());
      return copy.textContent.trim();
    };
    const headings = Array.from(table.querySelectorAll("thead th")).map(visible);
    table.querySelectorAll("tbody tr").forEach((row) => {
      Array.from(row.children).forEach((cell, i) => {
        if (headings[i]) cell.setAttribute("data-label", headings[i]);
      });
    });
    table.classList.add("cards");
  });
}

document.addEventListener("DOMContentLoaded", () => {
  foldingMenu();
  labelledCells();
  keepTypedText();
  restoreTypedText();
  idleTimeout();
  fillFromFragment();
  resetPage();
  sectionInView();
  strengthMeter();
  uploads();
  passkeySignIn();
  passkeyCheck();
  passkeyRegister();
  const first = document.querySelector("main input:not([type=hidden]):not([type=file]):not([type=radio])");
  if (first && !first.value) first.focus();
});
