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
  // A PEM field may be filled from a file: the file picker exists only with this script,
  // so without it the field is pasted into, and the form still posts the same text.
  for (const area of document.querySelectorAll("textarea[data-file]")) {
    const pick = document.createElement("input");
    pick.type = "file";
    pick.accept = area.dataset.file;
    pick.className = "file";
    pick.setAttribute("aria-label", "Read from a file");
    pick.addEventListener("change", () => {
      const f = pick.files && pick.files[0];
      if (f) { f.text().then((t) => { area.value = t; }); }
    });
    area.before(pick);
  }
});
