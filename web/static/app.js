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

document.addEventListener("DOMContentLoaded", () => {
  fillFromFragment();
  strengthMeter();
  uploads();
  const first = document.querySelector("main input:not([type=hidden]):not([type=file]):not([type=radio])");
  if (first && !first.value) first.focus();
});
