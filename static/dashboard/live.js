// Live tail: every element with data-live-url is refreshed with the HTML rows that URL
// returns, every 5 seconds while the page is visible (and, inside a closed <details>,
// only once it is opened), and not while the keyboard focus is on one of its rows: the
// rows replaced under it took the focus away to the page's start every 5 seconds.
(function () {
  "use strict";
  var INTERVAL_MS = 5000;

  function refresh(body) {
    var details = body.closest("details");
    if (details && !details.open) return;
    if (document.hidden) return;
    if (body.contains(document.activeElement)) return;
    fetch(body.dataset.liveUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      // A redirect means the session ended (login page): keep the rows rather than paste it in.
      .then(function (response) { return response.ok && !response.redirected ? response.text() : null; })
      .then(function (html) { if (html !== null) body.innerHTML = html; })
      .catch(function () { /* keep the last rows on a network hiccup */ });
  }

  document.querySelectorAll("[data-live-url]").forEach(function (body) {
    var details = body.closest("details");
    if (details) details.addEventListener("toggle", function () { refresh(body); });
    setInterval(function () { refresh(body); }, INTERVAL_MS);
  });
})();
