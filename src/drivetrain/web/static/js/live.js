// Live pages: the element marked data-live reloads its fragment when the server says something
// changed for this user (Server-Sent Events from /api/v1/events), and a toast says what. The page
// lists the events it follows in data-listen; data-toast-<event, dots as dashes> holds each toast.
// The page names the last event it already reflects (data-events="…?after=N"), so nothing between
// rendering and connecting is missed; EventSource reconnects by itself and sends Last-Event-ID.
(function () {
  "use strict";

  var live = document.querySelector("[data-live]");
  var toasts = document.getElementById("toasts");

  // Form errors (422) come back as a fragment that says what to fix: show it instead of dropping it.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function fill(template, data) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return data[key] == null ? "—" : String(data[key]);
    });
  }

  function toast(text) {
    if (!toasts || !text) return;
    var item = document.createElement("div");
    item.className = "toast";
    item.textContent = text;
    toasts.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
  }

  function highlight(id) {
    var row = id && live.querySelector('[data-row="' + id + '"]');
    if (row) row.classList.add("fresh");
  }

  function refresh(template) {
    return function (message) {
      var data = JSON.parse(message.data);
      toast(fill(template || "", data));
      htmx.ajax("GET", live.dataset.live, { target: "#" + live.id, swap: "innerHTML" })
        .then(function () { highlight(data.lead_id || data.case_id); });
    };
  }

  if (!live || !window.EventSource) return;
  var source = new EventSource(live.dataset.events || "/api/v1/events");
  (live.dataset.listen || "").split(/\s+/).filter(Boolean).forEach(function (name) {
    var key = "toast" + name.replace(/[._]/g, "-").replace(/-(\w)/g, function (_, c) { return c.toUpperCase(); })
      .replace(/^\w/, function (c) { return c.toUpperCase(); });
    source.addEventListener(name, refresh(live.dataset[key]));
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
