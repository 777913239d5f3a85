// Billion Songs: the little a song page needs beyond HTML. Inlined into every page.
(function () {
  "use strict";

  // The per-visitor part (sign-in state, votes) is fetched after load, so the song page
  // itself is the same bytes for everyone and can be cached publicly.
  function loadMe() {
    var me = document.getElementById("me");
    if (!me || me.getAttribute("data-loaded")) return;
    me.setAttribute("data-loaded", "1");
    fetch(me.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { me.innerHTML = html; }) // our own escaped template
      .catch(function () {});
  }

  function share(button) {
    var url = button.getAttribute("data-url");
    var title = button.getAttribute("data-title");
    if (navigator.share) {
      navigator.share({ title: title, url: url }).catch(function () {});
    } else if (navigator.clipboard) {
      navigator.clipboard.writeText(url).then(function () {
        button.textContent = "Link copied";
        setTimeout(function () { button.textContent = "Share"; }, 2000);
      });
    } else {
      window.prompt("Copy this link", url);
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-share]");
    if (button) share(button);
  });
  loadMe();
})();
