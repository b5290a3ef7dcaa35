// halbench annotate: select a span of the answer, pick a type, save. Model text is only
// ever put into the page with textContent. Offsets sent to the server are Unicode code
// points (Python string indices), converted from the browser's UTF-16 offsets.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("data").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const answerEl = document.getElementById("answer");
  const panel = document.getElementById("panel");
  const message = document.getElementById("message");
  let selection = null; // {start, end} in UTF-16 units

  const cp = (units) => Array.from(data.answer.slice(0, units)).length; // UTF-16 -> code points
  const units = (points) => Array.from(data.answer).slice(0, points).join("").length;

  function say(text, isError) {
    message.textContent = text;
    message.className = "message" + (isError ? " error" : "");
  }

  async function call(method, url, body) {
    const resp = await fetch(url, {
      method: method,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    const out = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(out.error || resp.statusText);
    if (out.progress) {
      document.getElementById("progress").textContent = out.progress[0] + " / " + out.progress[1] + " done";
    }
    return out;
  }

  function render() {
    answerEl.textContent = "";
    let pos = 0;
    const text = data.answer;
    for (const s of data.spans) {
      const a = units(s.start), b = units(s.end);
      if (a > pos) answerEl.appendChild(document.createTextNode(text.slice(pos, a)));
      const mark = document.createElement("mark");
      mark.className = "type-" + s.type;
      mark.dataset.span = s.id;
      mark.title = s.type + (s.correction ? " → " + s.correction : "");
      mark.textContent = text.slice(a, b);
      answerEl.appendChild(mark);
      pos = b;
    }
    if (pos < text.length) answerEl.appendChild(document.createTextNode(text.slice(pos)));
    const list = document.getElementById("spans");
    list.textContent = "";
    for (const s of data.spans) {
      const li = document.createElement("li");
      li.className = "span type-" + s.type;
      const t = document.createElement("span");
      t.className = "tag";
      t.textContent = s.type;
      const q = document.createElement("q");
      q.textContent = s.text;
      li.append(t, " ", q);
      if (s.correction) {
        const c = document.createElement("span");
        c.className = "correction";
        c.textContent = " → " + s.correction;
        li.append(c);
      }
      const del = document.createElement("button");
      del.type = "button";
      del.className = "delete";
      del.textContent = "delete";
      del.addEventListener("click", () => removeSpan(s.id));
      li.append(" ", del);
      list.appendChild(li);
    }
    const plist = document.getElementById("proposals");
    plist.textContent = "";
    document.getElementById("proposals-box").hidden = !(data.proposals && data.proposals.length);
    for (const p of data.proposals || []) {
      const li = document.createElement("li");
      li.className = "proposal type-" + p.type;
      const t = document.createElement("span");
      t.className = "tag";
      t.textContent = p.type;
      const q = document.createElement("q");
      q.textContent = p.text;
      li.append(t, " ", q);
      if (p.correction) li.append(" → " + p.correction);
      const who = document.createElement("small");
      who.textContent = " (" + p.judge + ")";
      li.append(who, " ");
      if (p.decision) {
        const d = document.createElement("em");
        d.textContent = p.decision;
        li.append(d);
      } else {
        for (const [label, decision] of [["accept", "accepted"], ["reject", "rejected"]]) {
          const b = document.createElement("button");
          b.type = "button";
          b.className = label;
          b.textContent = label;
          b.addEventListener("click", () => decide(p, decision));
          li.append(b, " ");
        }
      }
      plist.appendChild(li);
    }
    const status = document.getElementById("status");
    status.textContent = data.status === "clean" ? "marked free of hallucination"
      : data.status === "hallucinated" ? "hallucinated" : "not judged yet";
    status.className = "status " + data.status;
    document.getElementById("clean").textContent = "";
    document.getElementById("clean").append(
      data.status === "clean" ? "undo: not judged " : "no hallucination ",
      Object.assign(document.createElement("kbd"), { textContent: "F" }));
  }

  // offset of (node, offset) within the answer's text, in UTF-16 units
  function offsetIn(node, offset) {
    const walker = document.createTreeWalker(answerEl, NodeFilter.SHOW_TEXT);
    let total = 0;
    while (walker.nextNode()) {
      if (walker.currentNode === node) return total + offset;
      total += walker.currentNode.textContent.length;
    }
    if (node === answerEl) { // offset counts child nodes
      let sum = 0;
      for (let i = 0; i < offset; i++) sum += answerEl.childNodes[i].textContent.length;
      return sum;
    }
    return null;
  }

  function readSelection() {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const r = sel.getRangeAt(0);
    if (!answerEl.contains(r.startContainer) || !answerEl.contains(r.endContainer)) return null;
    let a = offsetIn(r.startContainer, r.startOffset), b = offsetIn(r.endContainer, r.endOffset);
    if (a === null || b === null) return null;
    const text = data.answer;
    while (a < b && /\s/.test(text[a])) a++;
    while (b > a && /\s/.test(text[b - 1])) b--;
    return a < b ? { start: a, end: b } : null;
  }

  function openPanel(sel) {
    selection = sel;
    document.getElementById("selected").textContent = data.answer.slice(sel.start, sel.end);
    document.getElementById("correction").value = "";
    panel.hidden = false;
  }

  function closePanel() {
    selection = null;
    panel.hidden = true;
  }

  async function saveSpan() {
    if (!selection) return;
    const type = document.querySelector('input[name="type"]:checked').value;
    const correction = document.getElementById("correction").value.trim();
    try {
      const out = await call("POST", "/api/items/" + data.item + "/spans", {
        start: cp(selection.start), end: cp(selection.end), type: type,
        correction: correction === "" ? null : correction,
      });
      data.spans.push(out.span);
      data.spans.sort((x, y) => x.start - y.start);
      data.status = "hallucinated";
      closePanel();
      window.getSelection().removeAllRanges();
      render();
      say("saved: " + type + " span");
    } catch (e) { say(e.message, true); }
  }

  async function removeSpan(id) {
    try {
      await call("DELETE", "/api/spans/" + id);
      const fresh = await call("GET", "/api/items/" + data.item);
      data.spans = fresh.spans;
      data.proposals = fresh.proposals;
      data.status = fresh.status;
      render();
      say("span deleted");
    } catch (e) { say(e.message, true); }
  }

  async function decide(p, decision) {
    try {
      const out = await call("POST", "/api/proposals/" + p.id + "/decision", { decision: decision });
      p.decision = decision;
      if (out.span) {
        data.spans.push(out.span);
        data.spans.sort((x, y) => x.start - y.start);
        data.status = "hallucinated";
      }
      render();
      say("proposal " + decision);
    } catch (e) { say(e.message, true); }
  }

  async function toggleClean() {
    try {
      const out = await call("POST", "/api/items/" + data.item + "/verdict", { clean: data.status !== "clean" });
      data.status = out.status;
      data.spans = out.spans;
      render();
      say(out.status === "clean" ? "marked free of hallucination" : "mark removed");
    } catch (e) { say(e.message, true); }
  }

  answerEl.addEventListener("mouseup", () => { const s = readSelection(); if (s) openPanel(s); });
  document.addEventListener("keyup", (ev) => {
    if (ev.key === "Shift" && !inField(ev)) { const s = readSelection(); if (s) openPanel(s); }
  });
  document.getElementById("save").addEventListener("click", saveSpan);
  document.getElementById("cancel").addEventListener("click", closePanel);
  document.getElementById("clean").addEventListener("click", toggleClean);

  function inField(ev) { return ev.target instanceof HTMLInputElement && ev.target.type === "text"; }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape") { closePanel(); return; }
    if (ev.key === "Enter" && selection) { ev.preventDefault(); saveSpan(); return; }
    if (inField(ev)) return;
    if (selection && /^[1-9]$/.test(ev.key)) {
      const radio = document.querySelectorAll('input[name="type"]')[Number(ev.key) - 1];
      if (radio) { radio.checked = true; ev.preventDefault(); }
      return;
    }
    const go = (id) => { const a = document.getElementById(id); if (a) window.location = a.href; };
    if (ev.key === "f" || ev.key === "F") { ev.preventDefault(); toggleClean(); }
    else if (ev.key === "n" || ev.key === "ArrowRight") go("next");
    else if (ev.key === "p" || ev.key === "ArrowLeft") go("prev");
  });

  render();
})();
