// Type-ahead for the search box in every page's header. Without JavaScript the box is a
// plain form that opens /search; with it, suggestions come from ARKG's own JSON API
// (/search?format=json), shown as links. Text goes in with textContent, never as HTML.
(function () {
  "use strict";
  var form = document.querySelector("form.site-search");
  if (!form || !window.fetch) { return; }
  var input = form.querySelector("input[name=q]");
  var api = form.getAttribute("data-api");
  var list = document.createElement("ul");
  list.id = "site-search-suggestions";
  list.className = "suggestions";
  list.setAttribute("role", "listbox");
  list.hidden = true;
  form.appendChild(list);
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-autocomplete", "list");
  var timer = null, asked = 0, active = -1;

  function close() { list.hidden = true; list.textContent = ""; active = -1; input.setAttribute("aria-expanded", "false"); }

  function show(hits) {
    list.textContent = "";
    active = -1;
    hits.forEach(function (hit, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = "site-search-option-" + i;
      var a = document.createElement("a");
      a.href = hit.url;
      a.textContent = hit.label;
      li.appendChild(a);
      var meta = document.createElement("span");
      meta.className = "muted";
      meta.textContent = " " + hit.type + (hit.match.text !== hit.label ? " · " + hit.match.text : "");
      li.appendChild(meta);
      list.appendChild(li);
    });
    list.hidden = hits.length === 0;
    input.setAttribute("aria-expanded", hits.length ? "true" : "false");
  }

  function ask() {
    var q = input.value.trim();
    if (!q || q.length > 200) { close(); return; }
    var mine = ++asked;
    fetch(api + "?format=json&limit=8&q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { search: [] }; })
      .then(function (body) { if (mine === asked) { show(body.search || []); } })
      .catch(function () { close(); });
  }

  function move(step) {
    var items = list.querySelectorAll("li");
    if (!items.length) { return; }
    if (active >= 0) { items[active].classList.remove("active"); }
    active = (active + step + items.length) % items.length;
    items[active].classList.add("active");
    input.setAttribute("aria-activedescendant", items[active].id);
  }

  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 120); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { move(1); e.preventDefault(); }
    else if (e.key === "ArrowUp") { move(-1); e.preventDefault(); }
    else if (e.key === "Escape") { close(); }
    else if (e.key === "Enter" && active >= 0) {
      e.preventDefault();
      window.location.href = list.querySelectorAll("li a")[active].href;
    }
  });
  document.addEventListener("click", function (e) { if (!form.contains(e.target)) { close(); } });
})();
