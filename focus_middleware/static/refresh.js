// Focus session refresh, served by focus-middleware at <root>/_focus/refresh.js.
//
// Keeps this app's session cookie fresh while a page is open and visible: shortly before
// the session token in the cookie expires (or every 45 s), it fetches a fresh token from
// Focus (GET /api/sessionToken, with Focus's own cookies) and hands it to this app's
// refresh endpoint, which verifies it and re-sets the cookie. The cookie itself is
// HttpOnly: this script never reads it, it only learns the expiry from the endpoint.
//
// Off *.thefocus.ai the call to Focus needs third-party cookies; where a browser blocks
// them the refresh stops quietly and the sign-in bounce keeps the user signed in instead.
// When Focus says the user signed out, it stops and dispatches "focus:signedout".
(function () {
  "use strict";
  var API = __FOCUS_API_URL__;
  var script = document.currentScript;
  var ENDPOINT = new URL("session", script ? script.src : location.href).href;
  var KEY = "focus:session-expires-at";
  // Renew this long before expiry: paid work needs min_token_life left (+15 s margin).
  var EARLY = __FOCUS_REFRESH_LEAD__, LONGEST = 45, SHORTEST = 5;
  var timer = null, busy = false, stopped = false;

  function now() { return Date.now() / 1000; }

  function knownExpiry() {
    try { return parseFloat(sessionStorage.getItem(KEY)) || null; } catch (e) { return null; }
  }

  function remember(expiresAt) {
    try { sessionStorage.setItem(KEY, String(expiresAt)); } catch (e) { /* storage disabled */ }
  }

  function schedule(expiresAt) {
    clearTimeout(timer);
    if (stopped || document.hidden) return;
    var wait = LONGEST;
    if (expiresAt) wait = Math.min(LONGEST, Math.max(SHORTEST, expiresAt - now() - EARLY));
    timer = setTimeout(refresh, wait * 1000);
  }

  function stop(reason) {
    stopped = true;
    clearTimeout(timer);
    document.dispatchEvent(new CustomEvent("focus:" + reason));
  }

  function refresh() {
    if (busy || stopped) return;
    busy = true;
    fetch(API + "/api/sessionToken", { credentials: "include", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) { stop("signedout"); return null; }
        if (!response.ok) throw new Error("sessionToken " + response.status);
        return response.json();
      })
      .then(function (body) {
        if (!body || typeof body.token !== "string") return null;
        return fetch(ENDPOINT, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-Focus-Refresh": "1" },
          body: JSON.stringify({ token: body.token })
        }).then(function (response) {
          if (response.status === 401 || response.status === 403) { stop("refreshrefused"); return null; }
          if (!response.ok) throw new Error("refresh " + response.status);
          return response.json();
        });
      })
      .then(function (result) {
        busy = false;
        if (result && result.expires_at) { remember(result.expires_at); schedule(result.expires_at); }
      })
      .catch(function () { busy = false; schedule(null); });  // network trouble: try later
  }

  function resume() {
    var expiresAt = knownExpiry();
    if (!expiresAt || expiresAt - now() < EARLY + SHORTEST) refresh();
    else schedule(expiresAt);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) clearTimeout(timer);
    else resume();
  });
  resume();
})();
