// Search as you type on forms marked data-live-search: the server renders the results
// (the same page with ?partial=1), this only fetches them. Without script the form still works.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form[data-live-search]");
    Array.prototype.forEach.call(forms, function (form) {
      var target = document.getElementById(form.getAttribute("data-target"));
      var url = form.getAttribute("data-live-search");
      var timer = null;
      var pending = null;
      function refresh() {
        var params = new URLSearchParams(new FormData(form));
        if (pending) { pending.abort(); }
        pending = new AbortController();
        var query = params.toString();
        fetch(url + "?" + query + "&partial=1", { credentials: "same-origin", signal: pending.signal })
          .then(function (response) {
            if (response.redirected || !response.ok) { throw new Error("status " + response.status); }
            return response.text();
          })
          .then(function (html) {
            target.innerHTML = html;
            history.replaceState(null, "", url + "?" + query);
          })
          .catch(function () { /* aborted by a newer search, or offline: the button still works */ });
      }
      function later() {
        clearTimeout(timer);
        timer = setTimeout(refresh, 250);
      }
      form.addEventListener("input", later);
      form.addEventListener("change", later);
    });
  });
})();
