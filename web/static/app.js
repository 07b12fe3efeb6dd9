// Progressive touches only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Put the cursor where the user types next.
  const first = document.querySelector("main input:not([type=hidden])");
  if (first && !first.value) first.focus();
});
