// Live lead pages: the element marked data-live reloads its fragment when the server says
// something changed for this user (Server-Sent Events from /api/v1/events), and a toast says what.
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

  function highlight(leadId) {
    var row = live.querySelector('[data-lead="' + leadId + '"]');
    if (row) row.classList.add("fresh");
  }

  function refresh(template) {
    return function (message) {
      var data = JSON.parse(message.data);
      toast(fill(template || "", data));
      htmx.ajax("GET", live.dataset.live, { target: "#" + live.id, swap: "innerHTML" })
        .then(function () { highlight(data.lead_id); });
    };
  }

  if (!live || !window.EventSource) return;
  var source = new EventSource(live.dataset.events || "/api/v1/events");
  source.addEventListener("lead.assigned", refresh(live.dataset.toastAssigned));
  source.addEventListener("lead.sla_breached", refresh(live.dataset.toastBreached));
  window.addEventListener("pagehide", function () { source.close(); });
})();
