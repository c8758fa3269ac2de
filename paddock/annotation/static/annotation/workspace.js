// The annotator's workspace: keyboard-first pairwise judgements over the REST API.
//
// Model text is never parsed as HTML. The small markdown renderer below creates elements
// and sets only text nodes, so "<script>" or "<img onerror=...>" in a response shows as
// text; the page's Content-Security-Policy allows this one file and no inline script.
(function () {
  "use strict";
  const root = document.getElementById("workspace");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const urls = root.dataset;
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const withId = (template, id) => template.replace("/0/", "/" + id + "/");
  const VIEWS = ["empty", "loading", "compose", "generating", "comparison", "continue"];
  const AXES = { helpfulness: "Helpfulness", safety: "Safety" };
  // lease: the comparison on screen. held: the next one, leased ahead and kept unpainted.
  // ahead: the one request in flight that may bring the lease to hold (see "held ahead").
  const state = { mode: "queue", lease: null, held: null, ahead: null, busy: false,
                  judgement: null, chosen: null, back: "compose", leaseWarned: false };
  const judge = $("judge");
  const skipDialog = $("skip-dialog");
  const strengthKeys = {};
  judge.querySelectorAll("input[name=strength]").forEach((input) => {
    strengthKeys[input.dataset.key] = input.value;
  });

  class LoggedOut extends Error {}

  function show(...names) {
    for (const name of VIEWS) $(name).hidden = !names.includes(name);
  }

  function notify(text, kind) {
    const notice = $("notice");
    notice.textContent = text;
    notice.className = "notice " + (kind || "info");
    notice.hidden = false;
  }

  function clearNotice() {
    $("notice").hidden = true;
  }

  function setBusy(on) {
    state.busy = on;
    root.classList.toggle("busy", on);
  }

  // --- the REST API -------------------------------------------------------------------
  // `keepalive` lets an answer sent in the background finish when the page is left.
  async function api(method, url, body, keepalive) {
    const response = await fetch(url, {
      method,
      keepalive: Boolean(keepalive),
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json",
                 "X-CSRFToken": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 || response.status === 403) {
      notify("Your session has ended: log in again to go on. Nothing was stored.", "error");
      const link = document.createElement("a");
      link.href = urls.loginUrl;
      link.textContent = " Log in";
      $("notice").append(link);
      throw new LoggedOut();
    }
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (error) { data = null; }
    }
    return { status: response.status, data, headers: response.headers };
  }

  function problem(data) {
    if (!data) return "The server could not do that; try again.";
    if (typeof data.detail === "string") return data.detail;
    const first = Object.entries(data)[0];
    if (!first) return "The server could not do that; try again.";
    const [field, messages] = first;
    return field + ": " + (Array.isArray(messages) ? messages.join(" ") : String(messages));
  }

  function offline(error) {
    if (!(error instanceof LoggedOut)) {
      notify("Could not reach the server; nothing was lost. Try again in a moment.", "error");
    }
  }

  // --- safe markdown: paragraphs, headings, lists, quotes, fenced code, inline code,
  // bold and italics. Text only ever goes into text nodes.
  //
  // Annotators write prompts that other annotators see, so the renderer must survive any
  // input: it never recurses on the text (quotes nest through a work list, at most
  // MAX_NESTING deep; deeper markers stay as text), and every step is linear in the
  // text's length (no regular expression that can backtrack, no rescanning for a closer).
  // Laying out a page is what costs most, so a text longer than MAX_SHOWN_CHARS or
  // MAX_SHOWN_LINES shows its start and a button for the rest, and at most MAX_MARKUP
  // inline elements are made per text (the rest stays plain). Any 100,000 characters draw
  // in under 200 ms (benchmarks/hostile_markdown.py; tests/security/test_hostile_markdown.py
  // holds the drawing time linear in the text's length).
  const MAX_NESTING = 20;
  const MAX_SHOWN_CHARS = 20000;
  const MAX_SHOWN_LINES = 500;
  const MAX_MARKUP = 1000;
  let markup = 0; // inline elements left for the text being drawn

  function el(tag, className) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    return node;
  }

  const isSpace = (ch) => ch !== undefined && (ch === " " || ch === "\n" || /\s/.test(ch));
  const isWord = (ch) => ch !== undefined && ((ch >= "a" && ch <= "z") || (ch >= "A" && ch <= "Z") ||
                                              (ch >= "0" && ch <= "9") || ch === "_");
  const MARKUP_CHARS = /[`*_\n]/;

  // Positions a closer may sit at, ascending; next(from) gives the first at or after
  // `from`. Callers ask with ever larger `from`, so the cursor only moves forward.
  function closers(positions) {
    let at = 0;
    return (from) => {
      while (at < positions.length && positions[at] < from) at += 1;
      return at < positions.length ? positions[at] : -1;
    };
  }

  // Inline code (a run of N backticks up to the next run of exactly N), **bold**, *italics*
  // or _italics_, and line breaks. Every closer is found from lists made in one pass, so the
  // whole line of text is read a bounded number of times. Bold's content is read once more
  // for code and italics (it cannot hold another bold: its closer is the first one).
  function inline(text, into, inBold) {
    if (markup <= 0 || !MARKUP_CHARS.test(text)) {
      if (text) into.append(document.createTextNode(text));
      return;
    }
    const runs = new Map(); // backtick run length -> starts, ascending
    const boldAt = [];
    const emAt = { "*": [], _: [] };
    for (let i = 0; i < text.length; i += 1) {
      const ch = text[i];
      if (ch === "`") {
        let j = i;
        while (text[j] === "`") j += 1;
        if (!runs.has(j - i)) runs.set(j - i, []);
        runs.get(j - i).push(i);
        i = j - 1;
        continue;
      }
      if (ch !== "*" && ch !== "_") continue;
      const before = text[i - 1];
      const after = text[i + 1];
      if (ch === "*" && after === "*" && i > 0 && !isSpace(before)) boldAt.push(i);
      if (i > 0 && !isSpace(before) && !isWord(after) && after !== "*") emAt[ch].push(i);
    }
    const codeClose = new Map();
    for (const [length, starts] of runs) codeClose.set(length, closers(starts));
    const boldClose = closers(boldAt);
    const emClose = { "*": closers(emAt["*"]), _: closers(emAt._) };

    let plain = 0; // start of text not yet appended
    const emit = (upTo) => {
      if (upTo > plain) into.append(document.createTextNode(text.slice(plain, upTo)));
    };
    let i = 0;
    while (i < text.length) {
      const ch = text[i];
      if (ch === "`") {
        let j = i;
        while (text[j] === "`") j += 1;
        const close = markup > 0 ? codeClose.get(j - i)(j) : -1;
        if (close < 0) {
          i = j; // no closer: the backticks are text
          continue;
        }
        emit(i);
        markup -= 1;
        const code = el("code");
        code.textContent = text.slice(j, close);
        into.append(code);
        i = close + (j - i);
        plain = i;
        continue;
      }
      if (ch === "\n" && markup > 0) {
        markup -= 1;
        emit(i);
        into.append(el("br"));
        i += 1;
        plain = i;
        continue;
      }
      if (ch === "*" && !inBold && text[i + 1] === "*" && text[i + 2] !== undefined &&
          !isSpace(text[i + 2])) {
        const close = markup > 0 ? boldClose(i + 3) : -1;
        if (close >= 0) {
          markup -= 1;
          emit(i);
          const strong = el("strong");
          inline(text.slice(i + 2, close), strong, true);
          into.append(strong);
          i = close + 2;
          plain = i;
          continue;
        }
      }
      if ((ch === "*" || ch === "_") && !isWord(text[i - 1]) && text[i - 1] !== "*" &&
          text[i + 1] !== undefined && !isSpace(text[i + 1])) {
        const close = markup > 0 ? emClose[ch](i + 2) : -1;
        if (close >= 0) {
          markup -= 1;
          emit(i);
          const em = el("em");
          em.textContent = text.slice(i + 1, close);
          into.append(em);
          i = close + 1;
          plain = i;
          continue;
        }
      }
      i += 1;
    }
    emit(text.length);
  }

  // Block markers, read by hand rather than by regular expressions with two adjacent
  // repeats (which backtrack quadratically on a long run of spaces).
  function fenceOf(line) {
    const rest = line.trimStart();
    const mark = rest[0];
    if (mark !== "`" && mark !== "~") return null;
    let n = 0;
    while (rest[n] === mark) n += 1;
    if (n < 3) return null;
    const lang = rest.slice(n).trim();
    return /^[\w+#.-]*$/.test(lang) ? { marker: rest.slice(0, n), lang } : null;
  }

  function headingOf(line) {
    const match = /^\s{0,3}(#{1,6})\s([\s\S]*)$/.exec(line);
    if (!match) return null;
    let text = match[2].trimEnd();
    let end = text.length;
    while (end > 0 && text[end - 1] === "#") end -= 1;
    text = text.slice(0, end).trim();
    return { level: match[1].length, text };
  }

  const LIST_ITEM = /^\s*([-*+]|\d{1,9}[.)])\s([\s\S]*)$/;
  const listItemOf = (line) => {
    const match = LIST_ITEM.exec(line);
    return match ? [match[0], match[1], match[2].trimStart()] : null;
  };
  const QUOTE = /^\s{0,3}>/;

  // Where to cut a long text for its first showing: MAX_SHOWN_CHARS or MAX_SHOWN_LINES.
  function shownLength(text) {
    let end = Math.min(text.length, MAX_SHOWN_CHARS);
    let lines = 0;
    for (let at = text.indexOf("\n"); at >= 0 && at < end; at = text.indexOf("\n", at + 1)) {
      lines += 1;
      if (lines >= MAX_SHOWN_LINES) end = at;
    }
    return end;
  }

  function markdown(text, into, whole) {
    into.replaceChildren();
    const all = String(text).replace(/\r\n?/g, "\n");
    const end = whole ? all.length : shownLength(all);
    markup = MAX_MARKUP;
    // A quote's lines become a job of their own, its element already in place.
    const jobs = [{ lines: all.slice(0, end).split("\n"), into, depth: 0 }];
    while (jobs.length) blocks(jobs.pop(), jobs);
    if (end < all.length) {
      const rest = all.length - end;
      const more = el("button", "md-more");
      more.type = "button";
      more.textContent = "Show the rest (" + rest.toLocaleString("en") + " more character" +
        (rest === 1 ? ")" : "s)");
      more.addEventListener("click", () => markdown(all, into, true));
      into.append(more);
    }
  }

  function blocks({ lines, into, depth }, jobs) {
    let paragraph = [];
    const flush = () => {
      if (paragraph.length) {
        const p = el("p");
        inline(paragraph.join("\n"), p, false);
        into.append(p);
        paragraph = [];
      }
    };
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      const fence = fenceOf(line);
      if (fence) {
        flush();
        const code = [];
        i += 1;
        while (i < lines.length && !lines[i].trim().startsWith(fence.marker)) code.push(lines[i++]);
        i += 1;
        const pre = el("pre");
        const block = el("code");
        if (fence.lang) block.dataset.lang = fence.lang;
        block.textContent = code.join("\n");
        pre.append(block);
        into.append(pre);
        continue;
      }
      const heading = headingOf(line);
      if (heading) {
        flush();
        const p = el("p", "md-heading md-h" + heading.level);
        inline(heading.text, p, false);
        into.append(p);
        i += 1;
        continue;
      }
      const item = listItemOf(line);
      if (item) {
        flush();
        const ordered = /\d/.test(item[1]);
        const list = el(ordered ? "ol" : "ul");
        if (ordered && parseInt(item[1], 10) !== 1) list.start = parseInt(item[1], 10);
        while (i < lines.length) {
          const next = listItemOf(lines[i]);
          if (!next || /\d/.test(next[1]) !== ordered) break;
          const parts = [next[2]];
          i += 1;
          while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !LIST_ITEM.test(lines[i])) {
            parts.push(lines[i++].trim());
          }
          const li = el("li");
          inline(parts.join("\n"), li, false);
          list.append(li);
        }
        into.append(list);
        continue;
      }
      if (QUOTE.test(line) && depth < MAX_NESTING) {
        flush();
        const quoted = [];
        while (i < lines.length && QUOTE.test(lines[i])) {
          quoted.push(lines[i++].replace(/^\s{0,3}>\s?/, ""));
        }
        const quote = el("blockquote");
        into.append(quote);
        jobs.push({ lines: quoted, into: quote, depth: depth + 1 });
        continue;
      }
      if (line.trim() === "") flush();
      else paragraph.push(line);
      i += 1;
    }
    flush();
  }

  function conversation(turns, into) {
    into.replaceChildren();
    for (const turn of turns) {
      const box = el("div", "turn turn-" + turn.role);
      const who = el("span", "role");
      who.textContent = turn.role === "user" ? "User" : "Assistant";
      const body = el("div", "md");
      markdown(turn.content, body);
      box.append(who, body);
      into.append(box);
    }
  }

  // --- showing a comparison -----------------------------------------------------------
  function riskLabel(value) {
    for (const option of $("risk-category").options) {
      if (option.value === value) return option.textContent;
    }
    return value;
  }

  function safeInputs(side) {
    return document.querySelectorAll("input[name=" + side + "_safe]");
  }

  function safeValue(side) {
    for (const input of safeInputs(side)) if (input.checked) return input.value === "true";
    return null;
  }

  function resetJudgement() {
    judge.reset();
    for (const side of ["left", "right"]) {
      for (const input of safeInputs(side)) input.checked = false;
      $("response-" + side).classList.remove("chosen", "safe", "unsafe");
    }
  }

  function showLease(lease) {
    // "paddock:render" spans drawing the comparison, layout included (what the hostile
    // markdown benchmark records and its test compares across sizes).
    performance.mark("paddock:render-start");
    state.lease = lease;
    state.leaseWarned = false;
    resetJudgement();
    const article = $("comparison");
    article.dataset.assignment = lease.assignment_id;
    article.dataset.axis = lease.axis;
    const safety = lease.axis === "safety";
    $("cmp-axis").textContent = AXES[lease.axis] || lease.axis;
    $("cmp-axis").className = "badge axis-" + lease.axis;
    $("cmp-risk").hidden = !lease.risk_category;
    $("cmp-risk").textContent = lease.risk_category ? riskLabel(lease.risk_category) : "";
    $("cmp-batch").textContent = "Batch " + lease.batch + (lease.own_prompt ? " · your prompt" : "");
    for (const fieldset of article.querySelectorAll(".safety-label")) fieldset.hidden = !safety;
    conversation(lease.conversation, $("conversation"));
    markdown(lease.left, $("response-left-text"));
    markdown(lease.right, $("response-right-text"));
    for (const details of document.querySelectorAll("#guidelines details")) {
      details.open = details.dataset.axis === lease.axis;
    }
    show("comparison");
    leaseClock();
    const title = $("comparison-title");
    title.focus({ preventScroll: true });
    if (article.getBoundingClientRect().top < 0) article.scrollIntoView({ block: "start" });
    performance.measure("paddock:render", "paddock:render-start");
    requestAnimationFrame(() => performance.mark("paddock:comparison-shown"));
  }

  function leaseClock() {
    const lease = state.lease;
    if (!lease || $("comparison").hidden) return;
    const left = Date.parse(lease.expires_at) - Date.now();
    if (left > 0) {
      $("cmp-lease").textContent = "· yours for " + Math.max(1, Math.round(left / 60000)) + " min";
    } else {
      $("cmp-lease").textContent = "· lease expired";
      if (!state.leaseWarned) {
        state.leaseWarned = true;
        notify("Your time on this comparison has run out, so it may go to another annotator. " +
               "You can still submit: it is stored if nobody else has taken it.", "warn");
      }
    }
  }
  setInterval(leaseClock, 15000);

  // An empty queue is a 204 whose headers say why (the server knows: no batch open, the
  // batch complete, your share done, the rest with other annotators).
  function emptyReason(headers) {
    const detail = headers.get("Paddock-Queue-Empty-Detail");
    let text = "There is nothing for you to judge right now. New comparisons appear here " +
      "when a data manager adds them or opens a batch.";
    if (detail) {
      try { text = decodeURIComponent(detail); } catch (error) { /* keep the general text */ }
    }
    return { reason: headers.get("Paddock-Queue-Empty") || "", text };
  }

  function showEmpty(reason, text) {
    refreshProgress(true); // the batch may be complete now: the overall count moved
    state.lease = null;
    $("empty").dataset.reason = reason || "";
    $("empty-detail").textContent = text;
    show("empty");
    $("check-again").focus();
  }

  // Paint a comparison; after a submit, "paddock:submit-to-next" runs from the key press
  // to the frame that shows it (benchmarks/ui.py reads it).
  function paint(lease, measure) {
    // The server may hand the same lease to a request ahead and to the one that paints.
    if (state.held && state.held.assignment_id === lease.assignment_id) setHeld(null);
    showLease(lease);
    if (measure) {
      requestAnimationFrame(() => {
        performance.mark("paddock:next-shown");
        performance.measure("paddock:submit-to-next", "paddock:submit", "paddock:next-shown");
      });
    }
  }

  async function loadNext(measure) {
    const held = takeHeld();
    if (held) {
      paint(held, measure);
      leaseAhead();
      refreshProgress();
      return;
    }
    const { status, data, headers } = await api("POST", urls.nextUrl, { holding: [] });
    if (status === 204) {
      const why = emptyReason(headers);
      showEmpty(why.reason, why.text);
      return;
    }
    if (status !== 200) {
      notify(problem(data), "error");
      return;
    }
    paint(data, measure);
    leaseAhead();
    refreshProgress();
  }

  async function queue() {
    clearNotice();
    show("loading");
    setBusy(true);
    try {
      // A lease on its way (asked before the annotator left the queue) is held or released
      // by the time it lands; only then is the screen filled.
      while (state.ahead) await state.ahead;
      await loadNext(false);
    } catch (error) {
      offline(error);
    } finally {
      setBusy(false);
    }
  }

  // --- the comparison held ahead ------------------------------------------------------
  // In the queue the page leases the next comparison while the annotator reads the one on
  // screen (`next` with `holding: [shown]`), keeps it in memory unpainted, and paints it
  // the moment a key submits or skips; the answer then travels in the background with
  // `next: true`, and the lease in its reply is the next one held. So a key press never
  // waits for the network. At most one request that may bring a lease to hold is in flight
  // (`state.ahead`: the lease-ahead request or an answer sent in the background); a key
  // press that finds nothing held waits for it. A held lease is released when the
  // annotator leaves the page or the queue: the comparison goes back to the pool (for the
  // other annotators) at once instead of waiting out its lease. The one on screen is never
  // released. `data-held` on the workspace names the held assignment, for the browser
  // tests and benchmarks/ui.py.
  function setHeld(lease) {
    state.held = lease;
    root.dataset.held = lease ? lease.assignment_id : "";
  }

  // The held lease, if it is still live; an expired one is dropped (another annotator
  // may have it now), and the caller asks the server instead.
  function takeHeld() {
    const lease = state.held;
    setHeld(null);
    return lease && Date.parse(lease.expires_at) > Date.now() ? lease : null;
  }

  // A lease that arrived from a request running ahead: held while the annotator is in
  // the queue, released otherwise.
  function keep(lease) {
    if (!lease || (state.lease && state.lease.assignment_id === lease.assignment_id)) return;
    if (state.mode !== "queue" || state.held) {
      release(lease);
      return;
    }
    setHeld(lease);
  }

  function release(lease) {
    if (!lease) return;
    // keepalive: sent even while the page is being unloaded (pagehide).
    fetch(withId(urls.releaseUrl, lease.assignment_id), {
      method: "POST", keepalive: true, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
    }).catch(() => { /* unreleased, it still expires at the end of its lease */ });
  }

  function releaseHeld() {
    const lease = state.held;
    setHeld(null);
    release(lease);
  }

  // Run `work` as the one request ahead; its failures are its own to report.
  function behind(work) {
    const run = work().catch(() => {}).finally(() => {
      if (state.ahead === run) state.ahead = null;
    });
    state.ahead = run;
    return run;
  }

  function leaseAhead() {
    const shown = state.lease;
    if (state.mode !== "queue" || !shown || shown.own_prompt || state.held || state.ahead ||
        $("comparison").hidden) return;
    behind(async () => {
      const { status, data } = await api("POST", urls.nextUrl,
                                         { holding: [shown.assignment_id] });
      if (status === 200) keep(data);
      // 204: nothing more to hold now; the next key press asks the server itself.
    });
  }

  // A network failure is tried once more: a repeated answer is stored once (200), and
  // its reply holds the lease the first one may have taken.
  async function postTwice(url, body) {
    try {
      return await api("POST", url, body, true);
    } catch (error) {
      if (error instanceof LoggedOut) throw error;
      return api("POST", url, body, true);
    }
  }

  function notStored(status, data) {
    const why = status === 404 ? "that comparison is no longer yours." : problem(data);
    return "Your answer to the previous comparison was not stored: " + why;
  }

  // The answer to `lease` (already replaced on screen by `shown`) goes to the server in
  // the background; its reply brings the next lease to hold. When it fails the comparison
  // on screen stays, and the annotator is told that the previous answer was lost and why.
  // Without `shown` (the annotator left the queue meanwhile) no next lease is asked for.
  function sendBehind(lease, url, body, shown) {
    const payload = shown
      ? Object.assign({}, body, { next: true, holding: [shown.assignment_id] })
      : body;
    let refused = false;
    behind(async () => {
      let reply;
      try {
        reply = await postTwice(url, payload);
      } catch (error) {
        refused = true;
        if (!(error instanceof LoggedOut)) {
          notify("Your answer to the previous comparison was not stored: the server could " +
                 "not be reached.", "error");
        }
        return;
      }
      state.lastBatch = lease.batch;
      if ((reply.status === 200 || reply.status === 201) && shown) {
        state.judgement = reply.data.judgement;
        keep(reply.data.next);
      } else if (reply.status === 200 || reply.status === 201) {
        state.judgement = reply.data;
      } else {
        refused = true;
        notify(notStored(reply.status, reply.data), "error");
        refreshProgress(true);
        return;
      }
      if (reply.status === 201) counted(state.judgement, lease.batch);
    }).then(() => {
      if (refused) leaseAhead(); // an answer refused leased nothing
    });
  }

  // Answer the queue comparison on screen (a judgement or a skip) and move on: to the held
  // lease at once, or else (none held, or it expired) by waiting for the server's reply.
  async function answer(lease, url, body, measure) {
    let next = takeHeld();
    if (!next && state.ahead) {
      // The lease-ahead request (or the previous answer, and the lease-ahead request that
      // follows a refused one) is still on its way: usually quick.
      setBusy(true);
      try {
        while (!next && state.ahead) {
          await state.ahead;
          next = takeHeld();
        }
      } finally {
        setBusy(false);
      }
      if (state.lease !== lease || state.mode !== "queue") {
        // The annotator left this comparison while waiting: store the answer all the same.
        if (next) keep(next);
        sendBehind(lease, url, body, null);
        return;
      }
    }
    if (next) {
      clearNotice();
      paint(next, measure);
      sendBehind(lease, url, body, next);
      return;
    }
    await answerAndWait(lease, url, body, measure);
  }

  async function answerAndWait(lease, url, body, measure) {
    setBusy(true);
    show("loading");
    try {
      const { status, data } = await api("POST", url,
                                         Object.assign({}, body, { next: true, holding: [] }));
      if (status === 200 || status === 201) {
        clearNotice();
        state.judgement = data.judgement;
        state.lastBatch = lease.batch;
        if (status === 201) counted(data.judgement, lease.batch);
        if (data.next) {
          paint(data.next, measure);
          leaseAhead();
        } else {
          const empty = data.queue_empty || {};
          showEmpty(empty.reason, empty.detail || "There is nothing for you to judge right now.");
        }
      } else if (status === 409 || status === 404) {
        // lease_lost, batch_not_open, already judged or skipped, or not ours any more:
        // say so, then move on.
        notify(status === 404 ? "That comparison is no longer yours; nothing was stored."
                              : problem(data), "error");
        refreshProgress(true);
        await loadNext(false);
      } else {
        show("comparison");
        notify(problem(data), "error");
      }
    } catch (error) {
      show("comparison");
      offline(error);
    } finally {
      setBusy(false);
    }
  }

  // --- judging ------------------------------------------------------------------------
  function choose(side) {
    const input = judge.querySelector("input[name=chosen][value=" + side + "]");
    input.checked = true;
    markChosen();
  }

  function markChosen() {
    const chosen = judge.elements.chosen.value;
    for (const side of ["left", "right"]) {
      $("response-" + side).classList.toggle("chosen", side === chosen);
    }
  }

  function toggleSafe(side) {
    const now = safeValue(side);
    const want = now === true ? "false" : "true"; // unset -> safe -> unsafe -> safe ...
    for (const input of safeInputs(side)) input.checked = input.value === want;
    markSafety(side);
  }

  function markSafety(side) {
    const value = safeValue(side);
    const box = $("response-" + side);
    box.classList.toggle("safe", value === true);
    box.classList.toggle("unsafe", value === false);
  }

  function missing() {
    if (!judge.elements.chosen.value) return "Choose the better response first: 1 for A, 2 for B.";
    if (state.lease.axis === "safety" && (safeValue("left") === null || safeValue("right") === null)) {
      return "Mark each response safe or unsafe first: A and B toggle the labels.";
    }
    if (!judge.elements.strength.value) return "Say by how much: Q, W, E or R.";
    return null;
  }

  async function submit() {
    if (state.busy || !state.lease) return;
    const gap = missing();
    if (gap) {
      notify(gap, "warn");
      return;
    }
    const lease = state.lease;
    const chosen = judge.elements.chosen.value;
    const body = { chosen, strength: judge.elements.strength.value,
                   flagged_harmful: $("flagged").checked };
    if (lease.axis === "safety") {
      body.left_safe = safeValue("left");
      body.right_safe = safeValue("right");
    }
    performance.mark("paddock:submit");
    const url = withId(urls.submitUrl, lease.assignment_id);
    if (lease.own_prompt) {
      await submitOwn(lease, url, body, chosen);
      return;
    }
    await answer(lease, url, body, true);
  }

  // One's own prompt: after judging it the continue view shows; no next is asked.
  async function submitOwn(lease, url, body, chosen) {
    setBusy(true);
    try {
      const { status, data } = await api("POST", url, body);
      if (status === 200 || status === 201) {
        clearNotice();
        state.judgement = data;
        state.lastBatch = lease.batch;
        refreshProgress(true);
        showContinue(lease, chosen);
      } else if (status === 409 || status === 404) {
        notify(status === 404 ? "That comparison is no longer yours; nothing was stored."
                              : problem(data), "error");
        await loadNext(false);
      } else {
        notify(problem(data), "error");
      }
    } catch (error) {
      offline(error);
    } finally {
      setBusy(false);
    }
  }

  function openSkip() {
    if (state.busy || !state.lease) return;
    $("skip-flagged").checked = $("flagged").checked;
    skipDialog.showModal();
    const checked = skipDialog.querySelector("input[name=reason]:checked");
    if (checked) checked.focus();
  }

  async function confirmSkip() {
    const form = $("skip-form");
    let reason = form.elements.reason.value;
    if (reason === "other") {
      reason = $("skip-other").value.trim();
      if (!reason) {
        $("skip-other").focus();
        return;
      }
    }
    const flagged = $("skip-flagged").checked;
    skipDialog.close();
    const lease = state.lease;
    const url = withId(urls.skipUrl, lease.assignment_id);
    const body = { reason, flagged_harmful: flagged };
    if (!lease.own_prompt) {
      await answer(lease, url, body, false);
      return;
    }
    setBusy(true);
    try {
      const { status, data } = await api("POST", url, body);
      if (status === 200 || status === 201 || status === 404) {
        clearNotice();
        state.lastBatch = lease.batch;
        refreshProgress(true);
        state.lease = null;
        setMode("write");
      } else if (status === 409) {
        // Already judged (in another tab), or the batch closed: say so, then move on.
        notify(problem(data), "error");
        refreshProgress(true);
        await loadNext(false);
      } else {
        notify(problem(data), "error");
      }
    } catch (error) {
      offline(error);
    } finally {
      setBusy(false);
    }
  }

  // --- write-a-prompt and continuing ---------------------------------------------------
  function setMode(mode) {
    state.mode = mode;
    $("mode-queue").setAttribute("aria-pressed", String(mode === "queue"));
    $("mode-write").setAttribute("aria-pressed", String(mode === "write"));
    if (mode === "queue") {
      queue();
      return;
    }
    releaseHeld();
    clearNotice();
    show("compose");
    $("prompt-message").focus();
  }

  function showContinue(lease, chosenSide) {
    state.chosen = chosenSide;
    state.lease = null;
    releaseHeld();
    const turns = lease.conversation.concat([{ role: "assistant", content: lease[chosenSide] }]);
    conversation(turns, $("continue-conversation"));
    $("continue-message").value = "";
    state.mode = "write";
    $("mode-queue").setAttribute("aria-pressed", "false");
    $("mode-write").setAttribute("aria-pressed", "true");
    show("continue");
    $("continue-message").focus();
  }

  // Sampling runs on a generation worker: the POST answers 202 at once and the page polls
  // the request, saying how long it has waited and whether a worker has picked it up.
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function waitForResponses(statusUrl) {
    const started = performance.now();
    let delay = 250;
    for (;;) {
      await sleep(delay);
      delay = Math.min(delay * 1.5, 2000);
      const { status, data } = await api("GET", statusUrl);
      if (status !== 200) return { failed: problem(data) };
      if (data.state === "succeeded") return { lease: data.assignment };
      if (data.state === "failed" || data.state === "cancelled") {
        return { failed: data.detail || "Sampling failed; your prompt was not stored." };
      }
      const seconds = Math.round((performance.now() - started) / 1000);
      $("generating-detail").textContent = data.state === "queued"
        ? `Waiting for a generation worker (${seconds} s).`
        : `A generation worker is sampling (${seconds} s).`;
    }
  }

  async function generate(url, body, from) {
    if (state.busy) return;
    state.back = from;
    setBusy(true);
    clearNotice();
    $("generating-detail").textContent = "";
    show("generating");
    try {
      const { status, data } = await api("POST", url, body);
      if (status !== 202) {
        show(from);
        notify(problem(data), "error");
        return;
      }
      const outcome = await waitForResponses(data.status_url);
      if (outcome.lease) {
        showLease(outcome.lease);
      } else {
        show(from);
        notify(outcome.failed, "error");
      }
    } catch (error) {
      show(from);
      offline(error);
    } finally {
      setBusy(false);
    }
  }

  $("compose-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { message: form.elements.message.value, axis: form.elements.axis.value };
    if (body.axis === "safety") body.risk_category = form.elements.risk_category.value;
    if (form.elements.batch) body.batch = parseInt(form.elements.batch.value, 10);
    generate(urls.promptsUrl, body, "compose");
  });

  $("continue-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!state.judgement) return;
    generate(withId(urls.continueUrl, state.judgement.id),
             { message: event.target.elements.message.value }, "continue");
  });

  for (const input of document.querySelectorAll("#compose-form input[name=axis]")) {
    input.addEventListener("change", () => {
      const safety = input.form.elements.axis.value === "safety";
      $("risk-field").hidden = !safety;
      $("risk-category").required = safety;
    });
  }

  // --- progress: the annotator's own counts move with each answer stored (counted here,
  // from the server's reply: no request of its own, so a judgement stays one request);
  // the batch's overall count moves with everyone's judgements, so the whole panel is
  // fetched again at most every PROGRESS_EVERY_MS while judging, and at once when the
  // queue runs empty or an answer is refused.
  const number = (n) => Number(n).toLocaleString("en");
  const PROGRESS_EVERY_MS = 20000;
  let progress = null;
  let progressAt = -Infinity;
  let progressAsked = 0;
  let progressInFlight = false;
  let progressStale = false; // an answer was counted while a fetch was under way

  function counted(judgement, batchName) {
    if (!judgement) return;
    if (progressInFlight) progressStale = true;
    if (progress) {
      const key = judgement.skipped ? "skipped" : "judged";
      progress.today[key] += 1;
      const batch = progress.batches.find((b) => b.name === batchName);
      if (batch) batch[key] += 1;
    }
    refreshProgress(false);
  }

  async function refreshProgress(force) {
    if (!force && performance.now() - progressAt < PROGRESS_EVERY_MS) {
      renderProgress();
      return;
    }
    progressAt = performance.now();
    const asked = ++progressAsked;
    progressInFlight = true;
    progressStale = false;
    let result;
    try {
      result = await api("GET", urls.progressUrl);
    } catch (error) {
      return;
    } finally {
      if (asked === progressAsked) progressInFlight = false;
    }
    // Answers may arrive out of order: only the latest question's answer is current.
    if (result.status !== 200 || asked !== progressAsked) return;
    progress = result.data;
    renderProgress();
    // An answer counted while this was under way may be missing from it: ask once more.
    if (progressStale) refreshProgress(true);
  }

  function renderProgress() {
    if (!progress) return;
    $("progress-today").textContent =
      number(progress.today.judged) + " judged · " + number(progress.today.skipped) + " skipped";
    const name = state.lease ? state.lease.batch : state.lastBatch;
    const batch = progress.batches.find((b) => b.name === name) || progress.batches[0];
    if (!batch) {
      $("progress-batch").textContent = "no batch is open";
      $("progress-overall").textContent = "–";
      $("progress-gold").textContent = "–";
      return;
    }
    $("progress-batch").textContent = number(batch.judged) + " judged · " +
      number(batch.skipped) + " skipped (" + batch.name + ")";
    $("progress-overall").textContent =
      number(batch.complete) + " of " + number(batch.comparisons) + " comparisons complete";
    let gold = "not shown for this batch";
    if (batch.gold_revealed) {
      gold = batch.gold.judged
        ? Math.round(batch.gold.accuracy * 100) + "% (" + batch.gold.correct + " of " +
          batch.gold.judged + " gold comparisons)"
        : "no gold comparisons judged yet";
    }
    $("progress-gold").textContent = gold;
  }

  // --- keys ---------------------------------------------------------------------------
  const TYPING = "textarea, select, input[type=text], input[type=search], [contenteditable]";

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && target.form &&
        target.matches("textarea")) {
      event.preventDefault();
      target.form.requestSubmit();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || skipDialog.open) return;
    if (target.closest && target.closest(TYPING)) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === "g") {
      $("guidelines").focus();
      event.preventDefault();
      return;
    }
    if ($("comparison").hidden || !state.lease) return;
    if (key === "Enter" && target.closest("button, a, summary")) return;
    let handled = true;
    if (state.busy) {
      handled = false;
    } else if (key === "1") {
      choose("left");
    } else if (key === "2") {
      choose("right");
    } else if (key === "a") {
      toggleSafe("left");
    } else if (key === "b") {
      toggleSafe("right");
    } else if (key === "f") {
      $("flagged").checked = !$("flagged").checked;
    } else if (key === "s") {
      openSkip();
    } else if (key === "Enter") {
      submit();
    } else if (key === "Escape") {
      resetJudgement();
      clearNotice();
    } else if (strengthKeys[key]) {
      judge.querySelector("input[name=strength][value=" + strengthKeys[key] + "]").checked = true;
      submit();
    } else {
      handled = false;
    }
    if (handled) event.preventDefault();
  });

  skipDialog.addEventListener("keydown", (event) => {
    const typing = event.target.matches("input[type=text]");
    const reasons = skipDialog.querySelectorAll("input[name=reason]");
    if (!typing && /^[1-9]$/.test(event.key) && reasons[event.key - 1]) {
      event.preventDefault();
      event.stopPropagation();
      reasons[event.key - 1].checked = true;
      if (reasons[event.key - 1].value === "other") $("skip-other").focus();
      else reasons[event.key - 1].focus();
    } else if (event.key === "Enter" && !event.target.matches("button")) {
      event.preventDefault();
      event.stopPropagation();
      confirmSkip();
    }
  });

  $("skip-form").addEventListener("submit", (event) => {
    event.preventDefault();
    confirmSkip();
  });
  $("skip-other").addEventListener("input", () => {
    $("skip-form").querySelector("input[name=reason][value=other]").checked = true;
  });
  $("skip-cancel").addEventListener("click", () => skipDialog.close());

  judge.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  judge.addEventListener("change", markChosen);
  for (const side of ["left", "right"]) {
    for (const input of safeInputs(side)) input.addEventListener("change", () => markSafety(side));
  }
  $("skip").addEventListener("click", openSkip);
  $("check-again").addEventListener("click", queue);
  $("mode-queue").addEventListener("click", () => setMode("queue"));
  $("mode-write").addEventListener("click", () => setMode("write"));
  $("new-prompt").addEventListener("click", () => {
    $("prompt-message").value = "";
    setMode("write");
  });
  $("back-to-queue").addEventListener("click", () => setMode("queue"));

  // Leaving the page gives the held comparison back; coming back from the back-forward
  // cache leases one ahead again.
  window.addEventListener("pagehide", releaseHeld);
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) leaseAhead();
  });

  refreshProgress(true);
  if ($("empty").hidden) queue();
})();
