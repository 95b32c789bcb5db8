// The send's progress, live: Server-Sent Events update the bar and the status line.
// Without JavaScript the page refreshes itself every two seconds instead.
(function () {
  var bar = document.getElementById("send-bar");
  if (!bar || !window.EventSource) return;
  var state = document.getElementById("send-state");
  var events = new EventSource(bar.getAttribute("data-events"));
  events.onmessage = function (e) {
    var d = JSON.parse(e.data);
    if (d.state === "none") { events.close(); return; }
    if (d.total) bar.max = d.total;
    bar.value = d.done;
    bar.textContent = d.done + " / " + d.total;
    state.textContent = d.text;
    if (d.state !== "running") {
      events.close();
      var stop = document.getElementById("send-stop");
      if (stop) stop.remove();
      document.body.setAttribute("data-send", d.state);
    }
  };
})();
