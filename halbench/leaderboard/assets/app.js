// halbench leaderboard: tabs, sort by any column (partial runs never ranked among complete
// ones), filter by model name, provenance details panel, "only items with hallucinations".
// Reads only what the page holds; no network.
(function () {
  function cellValue(td, type) {
    if (type === "num") {
      var v = td.getAttribute("data-value");
      return v === "" || v === null ? null : parseFloat(v);
    }
    return td.textContent.trim().toLowerCase();
  }
  document.querySelectorAll("table.board").forEach(function (table) {
    table.querySelectorAll("th.sortable").forEach(function (th, col) {
      th.addEventListener("click", function () {
        var asc = !th.classList.contains("sorted-asc");
        table.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(asc ? "sorted-asc" : "sorted-desc");
        var type = th.getAttribute("data-type");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var pa = a.cells[col].hasAttribute("data-partial"), pb = b.cells[col].hasAttribute("data-partial");
          if (pa !== pb) return pa ? 1 : -1;   // partial runs after complete ones, both directions
          var x = cellValue(a.cells[col], type), y = cellValue(b.cells[col], type);
          if (x === null && y === null) return 0;
          if (x === null) return 1;   // missing values last, both directions
          if (y === null) return -1;
          if (x < y) return asc ? -1 : 1;
          if (x > y) return asc ? 1 : -1;
          return 0;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var tabs = document.querySelectorAll(".tabs a.tab"), panels = document.querySelectorAll("section.panel");
  function show(id) {
    if (!document.getElementById(id)) return;
    panels.forEach(function (p) { p.hidden = p.id !== id; });
    tabs.forEach(function (t) { t.classList.toggle("active", t.getAttribute("href") === "#" + id); });
  }
  tabs.forEach(function (t) {
    t.addEventListener("click", function (e) {
      e.preventDefault();
      show(t.getAttribute("href").slice(1));
      history.replaceState(null, "", t.getAttribute("href"));
    });
  });
  function fromHash() {
    var id = location.hash.slice(1);
    if (panels.length) show(id && document.getElementById(id) && id.indexOf("tab-") === 0 ? id : panels[0].id);
  }
  fromHash();
  if (location.hash) window.scrollTo(0, 0);   // the tabs, not the anchor, at the top
  window.addEventListener("hashchange", function () { fromHash(); window.scrollTo(0, 0); });
  var filter = document.getElementById("filter");
  if (filter) {
    filter.addEventListener("input", function () {
      var q = filter.value.trim().toLowerCase();
      document.querySelectorAll("table.board tbody tr").forEach(function (tr) {
        var name = tr.getAttribute("data-model") || "";
        tr.classList.toggle("hidden", q !== "" && name.indexOf(q) === -1);
      });
    });
  }
  document.querySelectorAll("input.only-hall").forEach(function (box) {
    box.addEventListener("change", function () {
      var table = box.parentNode.parentNode.querySelector("table.items");
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        tr.classList.toggle("hidden", box.checked && tr.getAttribute("data-hallucinated") !== "1");
      });
    });
  });
  var panel = document.getElementById("details"), text = document.getElementById("details-text");
  document.querySelectorAll("td[data-provenance]").forEach(function (td) {
    td.addEventListener("click", function () {
      var prov = JSON.parse(td.getAttribute("data-provenance"));
      var lines = Object.keys(prov).map(function (k) { return k + ": " + prov[k]; });
      text.textContent = lines.join("\n") + (td.title.indexOf("bootstrap") >= 0 ? "\n" + td.title.split("\n").pop() : "");
      panel.hidden = false;
    });
  });
  var close = document.getElementById("close");
  if (close) close.addEventListener("click", function () { panel.hidden = true; });
})();
