// Progressive enhancement only: every form and link works without this file. Served from
// /console/assets so the CSP can forbid inline script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A submitted form says it is working (a token operation can take a while).
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", () => {
      const b = form.querySelector("button[type=submit]");
      if (b) { b.setAttribute("aria-busy", "true"); b.textContent = "Working…"; }
    });
  }
});
