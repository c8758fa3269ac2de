// The judgement browser's keys. In the list: j/k or the arrow keys move the selection,
// Enter opens it. On a judgement: n/p (or j/k) go to the older/newer judgement of the
// same filtered list, r and x arm "for review" and "exclude" and put the cursor in the
// reason field (Enter there marks), Esc goes back to the list (or out of the field).
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(target.tagName));
  }

  function plain(event) {
    return !(event.ctrlKey || event.metaKey || event.altKey);
  }

  function list(table) {
    const rows = [...table.querySelectorAll("tbody tr[data-href]")];
    let at = -1;
    function select(index) {
      if (!rows.length) return;
      at = Math.max(0, Math.min(rows.length - 1, index));
      rows.forEach((row, i) => {
        row.classList.toggle("selected", i === at);
        row.setAttribute("aria-selected", i === at ? "true" : "false");
      });
      rows[at].scrollIntoView({ block: "nearest" });
    }
    rows.forEach((row, i) => row.addEventListener("click", (event) => {
      if (event.target.closest("a")) return;
      select(i);
      window.location.href = row.dataset.href;
    }));
    document.addEventListener("keydown", (event) => {
      if (typing(event.target) || !plain(event)) return;
      if (event.key === "j" || event.key === "ArrowDown") {
        select(at + 1);
        event.preventDefault();
      } else if (event.key === "k" || event.key === "ArrowUp") {
        select(at < 0 ? 0 : at - 1);
        event.preventDefault();
      } else if (event.key === "Enter" && at >= 0) {
        window.location.href = rows[at].dataset.href;
        event.preventDefault();
      }
    });
    select(0);
  }

  function detail(head) {
    const form = document.getElementById("mark-form");
    const reason = document.getElementById("mark-reason");
    let armed = null;
    function arm(state) {
      const button = document.getElementById("mark-" + state);
      if (!button || !reason) return;
      document.querySelectorAll("#mark-form button").forEach((b) => b.classList.toggle("armed", b === button));
      armed = button;
      reason.focus();
    }
    if (reason) {
      reason.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && armed) {
          event.preventDefault();
          form.requestSubmit(armed);
        } else if (event.key === "Escape") {
          reason.blur();
          event.preventDefault();
        }
      });
    }
    document.addEventListener("keydown", (event) => {
      if (typing(event.target) || !plain(event)) return;
      const go = (url) => { if (url) window.location.href = url; event.preventDefault(); };
      if (event.key === "n" || event.key === "j") go(head.dataset.next);
      else if (event.key === "p" || event.key === "k") go(head.dataset.previous);
      else if (event.key === "Escape") go(head.dataset.list);
      else if (event.key === "r") { arm("review"); event.preventDefault(); }
      else if (event.key === "x") { arm("excluded"); event.preventDefault(); }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.getElementById("judgement-list");
    if (table) list(table);
    const head = document.getElementById("judgement");
    if (head) detail(head);
  });
})();
