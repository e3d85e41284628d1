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

// The person's time zone, as the browser knows it: pages show times in it (the server checks
// the name against the zones it knows, and falls back to the site's zone without it).
try {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && /^[A-Za-z0-9_+\/-]+$/.test(zone) && !document.cookie.split("; ").includes("cadenza_tz=" + zone)) {
    document.cookie = "cadenza_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
  }
} catch (error) {
  // No Intl time zone: the site's zone is used.
}

// A button that says data-copy="ID" copies that element's text (a call script, a draft).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.value !== undefined ? source.value : source.textContent;
  const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 2000); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => {});
  } else {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (document.execCommand("copy")) done();
  }
});

// Keys for a person working a queue of tasks (listed on the task's page): j/k next and
// previous, 1-9 an outcome, n a note, e the draft, c the call log; Ctrl+Enter sends a draft.
const typing = (element) =>
  element && (element.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName));

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.closest && target.closest("#send-form")) {
    event.preventDefault();
    target.closest("form").requestSubmit();
    return;
  }
  if (event.key === "Escape" && typing(target)) {
    target.blur();
    return;
  }
  if (typing(target) || event.ctrlKey || event.metaKey || event.altKey) return;
  const focus = (selector) => {
    const field = document.querySelector(selector);
    if (field) { event.preventDefault(); field.focus(); }
  };
  if (event.key === "j" || event.key === "k") {
    const link = document.querySelector(`a[data-key="${event.key}"]`);
    if (link) { event.preventDefault(); link.click(); }
  } else if (/^[1-9]$/.test(event.key)) {
    const button = document.querySelector(`button[data-key="${event.key}"]`);
    if (button) { event.preventDefault(); button.click(); }
  } else if (event.key === "n") {
    focus("#note-body");
  } else if (event.key === "e") {
    focus("#draft-body");
  } else if (event.key === "c") {
    focus(".call-form select");
  }
});
