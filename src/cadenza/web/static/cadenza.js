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

// A header checkbox that says data-check-all="NAME" ticks every box of that name in its form.
document.addEventListener("change", (event) => {
  const all = event.target;
  if (!all.matches("[data-check-all]") || !all.form) return;
  for (const box of all.form.querySelectorAll(`input[type=checkbox][name="${all.dataset.checkAll}"]`)) {
    box.checked = all.checked;
  }
});

// The sequence editor: line numbers beside the text, the lines with problems marked, and a
// problem's link that puts the cursor on its line.
function gutterOf(editor) {
  const text = editor.querySelector("textarea");
  const gutter = editor.querySelector(".gutter");
  const bad = new Set(
    [...document.querySelectorAll("#problems [data-line]")].map((link) => link.dataset.line)
  );
  const count = text.value.split("\n").length;
  const lines = [];
  for (let n = 1; n <= count; n += 1) lines.push(n);
  gutter.replaceChildren(...lines.map((n) => {
    const line = document.createElement("span");
    line.textContent = String(n);
    if (bad.has(String(n))) line.className = "bad-line";
    return line;
  }));
  gutter.scrollTop = text.scrollTop;
}

function editors() {
  return document.querySelectorAll("[data-code-editor]");
}

document.addEventListener("DOMContentLoaded", () => {
  for (const editor of editors()) {
    const text = editor.querySelector("textarea");
    gutterOf(editor);
    text.addEventListener("input", () => gutterOf(editor));
    text.addEventListener("scroll", () => {
      editor.querySelector(".gutter").scrollTop = text.scrollTop;
    });
  }
});

document.addEventListener("htmx:afterSwap", () => {
  for (const editor of editors()) gutterOf(editor);
});

document.addEventListener("click", (event) => {
  const link = event.target.closest("#problems [data-line]");
  if (!link) return;
  event.preventDefault();
  const text = document.getElementById("definition");
  const lines = text.value.split("\n");
  const number = Math.min(Number(link.dataset.line), lines.length);
  let start = 0;
  for (let n = 0; n < number - 1; n += 1) start += lines[n].length + 1;
  text.focus();
  text.setSelectionRange(start, start + lines[number - 1].length);
  // Scroll the selected line into view: the textarea's own line height times the line.
  const height = parseFloat(getComputedStyle(text).lineHeight) || 18;
  text.scrollTop = Math.max(0, (number - 3) * height);
});
