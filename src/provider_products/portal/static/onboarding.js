// The onboarding progress page follows the registration: it asks progress.json every second and
// updates the bar and the counts; when the run ends (or stops) it reloads, so the server renders it.
// Without script the page's Refresh button does the same by hand.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("progress");
    if (!box || box.getAttribute("data-running") !== "true") { return; }
    var url = box.getAttribute("data-progress-url");
    var bar = document.getElementById("progress-bar");
    function show(id, value) {
      var node = document.getElementById(id);
      if (node) { node.textContent = String(value); }
    }
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (response.redirected || !response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (p) {
          bar.max = p.to_register || 1;
          bar.value = p.to_register ? p.settled : 1;
          show("settled", p.settled);
          show("to-register", p.to_register);
          show("percent", p.percent);
          Object.keys(p.outcomes).forEach(function (key) { show("count-" + key, p.outcomes[key]); });
          if (!p.running) {
            window.location.reload();
            return;
          }
          setTimeout(poll, 1000);
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    setTimeout(poll, 500);
  });
})();
