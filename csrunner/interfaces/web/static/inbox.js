// Small progressive enhancements; the inbox works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  // Show times in the reader's own time zone (the server writes UTC).
  for (const t of document.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.title = t.textContent; t.textContent = d.toLocaleString([], {dateStyle: "medium", timeStyle: "short"}); }
  }
  // Ask before a skip: the email it guards will not be sent.
  document.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-confirm]");
    if (b && !window.confirm(b.dataset.confirm)) e.preventDefault();
  });
  // The CSM filter applies on change (the CSP allows no inline handlers).
  for (const s of document.querySelectorAll("select[data-autosubmit]")) {
    s.addEventListener("change", () => s.form.submit());
  }
  // One click per form: no double submissions on slow connections.
  for (const f of document.querySelectorAll("form.actions")) {
    f.addEventListener("submit", () => setTimeout(() => f.querySelectorAll("button").forEach((b) => (b.disabled = true)), 0));
  }
});
