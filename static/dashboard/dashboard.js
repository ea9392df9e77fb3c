// The dashboard's one script, loaded on every page of a project (nothing inline: the pages'
// Content-Security-Policy allows none).
//
// Live tail: every element with data-live-url is refreshed with the HTML rows that URL
// returns, every 5 seconds while the page is visible (and, inside a closed <details>,
// only once it is opened), and not while the keyboard focus is on one of its rows: the
// rows replaced under it took the focus away to the page's start every 5 seconds.
//
// A screen reader is told how many events arrived, in a polite status line beside the
// table, not the rows themselves: a live table would read all of them out every 5 seconds.
(function () {
  "use strict";
  var INTERVAL_MS = 5000;

  function eventLinks(body) {
    var links = {};
    body.querySelectorAll("a.event-name").forEach(function (link) { links[link.getAttribute("href")] = true; });
    return links;
  }

  function refresh(body, status, state) {
    var details = body.closest("details");
    if (details && !details.open) return;
    if (document.hidden) return;
    if (body.contains(document.activeElement)) return;
    fetch(body.dataset.liveUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      // A redirect means the session ended (login page): keep the rows rather than paste it in.
      .then(function (response) { return response.ok && !response.redirected ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var before = eventLinks(body);
        body.innerHTML = html;
        var arrived = Object.keys(eventLinks(body)).filter(function (href) { return !before[href]; }).length;
        // A tail's first rows replace its "Loading…": they were there before, no news.
        if (arrived && state.loaded) status.textContent = arrived + (arrived === 1 ? " new event" : " new events");
        state.loaded = true;
      })
      .catch(function () { /* keep the last rows on a network hiccup */ });
  }

  document.querySelectorAll("[data-live-url]").forEach(function (body) {
    // In the page before anything is said in it: a status added with its text is not read.
    var status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    body.closest("table").after(status);
    var details = body.closest("details");
    // The overview's list comes with its rows; a source's tail (in <details>) comes empty.
    var state = { loaded: !details };
    if (details) details.addEventListener("toggle", function () { refresh(body, status, state); });
    setInterval(function () { refresh(body, status, state); }, INTERVAL_MS);
  });
})();

// Project switcher: a <details>, which the browser closes only from its own summary. Its
// open list covers the tabs and the top of the page, so it closes as a menu does: Escape
// (the focus goes back to the summary, not to the page's start), a press anywhere outside
// it, or the keyboard's focus moving on past it (Tab after the last project).
(function () {
  "use strict";
  var switcher = document.querySelector("details.switcher");
  if (!switcher) return;
  var summary = switcher.querySelector("summary");

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !switcher.open) return;
    switcher.open = false;
    summary.focus();
  });
  // pointerdown, not click: Safari on iOS sends no click for a tap on plain text or space.
  document.addEventListener("pointerdown", function (event) {
    if (switcher.open && !switcher.contains(event.target)) switcher.open = false;
  });
  // relatedTarget is null when the window itself loses focus: the menu stays as it was.
  switcher.addEventListener("focusout", function (event) {
    if (event.relatedTarget && !switcher.contains(event.relatedTarget)) switcher.open = false;
  });
})();
