// Progressive enhancement only: every page works the same without this file.
"use strict";

// A filter whose select says data-autosubmit applies as soon as it changes.
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.matches("[data-autosubmit]") && field.form) field.form.requestSubmit();
});

// Ask before a button that says data-confirm; then keep a second click from posting twice.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question = button && button.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  if (event.target.method.toLowerCase() === "post" && button) {
    // Disabled after the browser has read the button's name and value into the form data.
    setTimeout(() => { button.disabled = true; }, 0);
  }
});

// htmx requests carry the page's CSRF token as a header (forms also send it as a field).
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
});
