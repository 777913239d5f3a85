// Billion Songs: the little a song page needs beyond HTML. Inlined into every page.
(function () {
  "use strict";

  // The per-visitor part (sign-in state, votes) is fetched after load, so the song page
  // itself is the same bytes for everyone and can be cached publicly.
  function showMe(me, html) {
    me.innerHTML = html; // our own escaped template
    // The best title suggestion goes beside the generated title.
    var slot = document.getElementById("suggested");
    if (!slot) return;
    var best = me.querySelector("[data-slot=suggested]");
    slot.textContent = "";
    if (best) slot.appendChild(best);
    slot.hidden = !best;
  }

  function loadMe() {
    var me = document.getElementById("me");
    if (!me || me.getAttribute("data-loaded")) return;
    me.setAttribute("data-loaded", "1");
    fetch(me.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { showMe(me, html); })
      .catch(function () {});
  }

  // After a vote the answer is only the vote part (X-Fragment: votes): it replaces the
  // old one, and any earlier message goes.
  function showPart(me, html) {
    var old = me.querySelector("[data-part=votes]");
    if (!old) return false;
    var messages = me.querySelectorAll(".message");
    for (var i = 0; i < messages.length; i++) messages[i].remove();
    old.outerHTML = html; // our own escaped template
    return true;
  }

  // Votes and suggestions: the form is sent in the background and the fragment (for the
  // song's vote form, its vote part) comes back refreshed. Without JavaScript the same
  // forms post and redirect to the song.
  function sendForm(event) {
    var form = event.target;
    var me = document.getElementById("me");
    if (!me || !form.hasAttribute || !form.hasAttribute("data-fragment") || !me.contains(form)) return;
    event.preventDefault();
    var data = new FormData(form);
    var button = event.submitter;
    if (button && button.name) data.append(button.name, button.value);
    me.setAttribute("aria-busy", "true");
    var wanted = form.getAttribute("data-fragment") || "me";
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { "X-Fragment": wanted } })
      .then(function (r) {
        var signIn = r.headers.get("X-Sign-In");
        if (r.status === 401 && signIn) { window.location.href = signIn; return; }
        var fragment = (r.headers.get("Content-Type") || "").indexOf("text/html") === 0 &&
          (r.ok || [400, 410, 429].indexOf(r.status) >= 0);
        if (!fragment) { me.removeAttribute("data-loaded"); loadMe(); return; } // e.g. a stale CSRF token
        var part = r.headers.get("X-Fragment");
        return r.text().then(function (html) {
          if (!(part === "votes" && showPart(me, html))) showMe(me, html);
        });
      })
      .catch(function () { form.submit(); })
      .then(function () { me.removeAttribute("aria-busy"); });
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

  document.addEventListener("submit", sendForm);
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-share]");
    if (button) share(button);
  });
  loadMe();
})();
