// The data manager's console: keep a batch's figures and its jobs' progress current.
// Everything shown is server-rendered; this script only fetches and swaps it in.
(function () {
  "use strict";

  function hidden() {
    return document.visibilityState === "hidden";
  }

  // Replace the figures, keeping open "Numbers" tables open and the focus where it was.
  function swap(current, fresh) {
    const figureOf = (element) => element && element.closest && element.closest("figure[id]");
    const open = [...current.querySelectorAll("figure[id] details[open]")].map((d) => figureOf(d).id);
    const focused = current.contains(document.activeElement) ? figureOf(document.activeElement) : null;
    current.replaceWith(fresh);
    open.forEach((id) => {
      const details = document.querySelector("#" + id + " details");
      if (details) details.open = true;
    });
    if (focused) {
      const summary = document.querySelector("#" + focused.id + " summary");
      if (summary) summary.focus();
    }
  }

  // A batch's figures, while it is open: poll a cheap stamp (judgement count and last
  // id) and fetch the figures only when it changed.
  function watchBatch() {
    const live = document.getElementById("live");
    if (!live || live.dataset.live !== "1") return;
    const url = live.dataset.liveUrl;
    const every = Number(live.dataset.pollMs || 2000);
    async function tick() {
      try {
        const current = document.getElementById("live");
        if (!hidden() && current) {
          const answer = await fetch(url + "?stamp_only=1", { headers: { Accept: "application/json" } });
          if (answer.ok) {
            const { stamp } = await answer.json();
            if (stamp !== current.dataset.stamp) {
              const page = await fetch(url, { headers: { Accept: "text/html" } });
              if (page.ok) {
                // Our own template, escaped by Django; DOMParser never runs scripts.
                const doc = new DOMParser().parseFromString(await page.text(), "text/html");
                const fresh = doc.getElementById("live");
                if (fresh) swap(current, document.adoptNode(fresh));
              }
            }
          }
        }
      } catch (error) {
        // The server restarted or the network blipped: try again on the next tick.
      }
      window.setTimeout(tick, every);
    }
    window.setTimeout(tick, every);
  }

  // A pipeline run's steps, while the run is active: fetch the steps and swap them in
  // when they changed, keeping open logs open; once the run stops, reload the page so
  // its buttons (Cancel, Re-run from) match.
  function watchRun() {
    const live = document.getElementById("run-live");
    if (!live || live.dataset.live !== "1") return;
    const url = live.dataset.liveUrl;
    const every = Number(live.dataset.pollMs || 2000);
    let last = null;
    async function tick() {
      try {
        const current = document.getElementById("run-live");
        if (!hidden() && current) {
          const page = await fetch(url, { headers: { Accept: "text/html" } });
          if (page.ok) {
            const text = await page.text();
            if (text !== last) {
              last = text;
              // Our own template, escaped by Django; DOMParser never runs scripts.
              const fresh = new DOMParser().parseFromString(text, "text/html").getElementById("run-live");
              if (fresh && fresh.dataset.live !== "1") {
                window.location.reload();
                return;
              }
              if (fresh) swapSteps(current, document.adoptNode(fresh));
            }
          }
        }
      } catch (error) {
        // The server restarted or the network blipped: try again on the next tick.
      }
      window.setTimeout(tick, every);
    }
    window.setTimeout(tick, every);
  }

  function swapSteps(current, fresh) {
    const open = [...current.querySelectorAll("details[id][open]")].map((d) => d.id);
    const active = document.activeElement;
    const focused = current.contains(active) && active.closest ? active.closest("details[id]") : null;
    current.replaceWith(fresh);
    open.forEach((id) => {
      const details = document.getElementById(id);
      if (details) details.open = true;
    });
    if (focused) {
      const summary = document.querySelector("#" + CSS.escape(focused.id) + " summary");
      if (summary) summary.focus();
    }
  }

  // Import and export jobs (and the jobs pages): progress bar, state and message, and
  // the download link when an export is done.
  function watchJob(row) {
    const url = row.dataset.jobUrl;
    async function tick() {
      let again = true;
      try {
        const answer = await fetch(url, { headers: { Accept: "application/json" } });
        if (answer.ok) {
          const job = await answer.json();
          const state = row.querySelector(".job-state");
          state.textContent = job.state_label;
          state.className = "state state-" + job.state + " job-state";
          row.querySelector("progress").value = job.progress;
          row.querySelector(".job-message").textContent = job.message;
          if (!job.live) {
            again = false;
            row.dataset.live = "0";
            if (job.download_url) {
              const link = document.createElement("a");
              link.href = job.download_url;
              link.setAttribute("download", "");
              link.className = "download-link";
              link.textContent = "Download" + (job.records != null ? " (" + job.records + " records)" : "");
              row.querySelector(".job-download").replaceChildren(link);
            }
            if (row.dataset.reloadOnFinish === "1") window.location.reload();
          }
        }
      } catch (error) {
        // Try again on the next tick.
      }
      if (again) window.setTimeout(tick, 1500);
    }
    window.setTimeout(tick, 1000);
  }

  watchBatch();
  watchRun();
  document.querySelectorAll("tr.job[data-live='1']").forEach(watchJob);
})();
