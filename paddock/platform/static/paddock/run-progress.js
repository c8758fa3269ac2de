// Live progress of a curation run: poll its JSON while it is queued or running.
(function () {
  const box = document.getElementById("status");
  if (!box || box.dataset.live !== "1") return;
  const url = box.dataset.progressUrl;
  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const run = await response.json();
        document.getElementById("run-status").textContent = run.status_label || run.status;
        document.getElementById("run-stage").textContent = run.stage_label || run.stage;
        document.getElementById("run-progress").value = run.progress;
        document.getElementById("run-message").textContent = run.message;
        if (run.status !== "queued" && run.status !== "running") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // The server is restarting or the network blipped: try again on the next tick.
    }
    window.setTimeout(poll, 1500);
  }
  window.setTimeout(poll, 1500);
})();
