// crew ui: live updates of a running run's page over server-sent events (no build, no CDN).
// The server sends the re-rendered page body; open/closed <details> keep their state.
(function () {
  "use strict";
  var body = document.getElementById("run-body");
  if (!body || !body.dataset.stream || !window.EventSource) { return; }
  var source = new EventSource(body.dataset.stream);
  function swap(html) {
    var open = {};
    body.querySelectorAll("details[id]").forEach(function (d) { open[d.id] = d.open; });
    var scrollY = window.scrollY;
    body.innerHTML = html;
    body.querySelectorAll("details[id]").forEach(function (d) {
      if (Object.prototype.hasOwnProperty.call(open, d.id)) { d.open = open[d.id]; }
    });
    window.scrollTo(0, scrollY);
    body.dataset.updates = String(Number(body.dataset.updates || "0") + 1);
  }
  source.addEventListener("body", function (e) { swap(e.data); });
  source.addEventListener("end", function (e) {
    source.close();
    body.dataset.ended = e.data;
  });
})();
