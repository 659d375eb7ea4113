// Focus form keeping, served by focus-middleware at <root>/_focus/preserve.js and as the
// second half of <root>/_focus/refresh.js.
//
// A form posted with an expired session is answered by a small page that holds the form's
// fields (as JSON in <script type="application/json" id="focus-kept-form">, CSRF tokens
// and password-like fields already left out by the server). On that page this script
// keeps them in sessionStorage (this tab only) and goes on to sign in. Back on the page the
// form was on, it fills the form in again and offers a "Continue" button: nothing is sent
// again until the person presses it. The kept entry is removed when used, and ignored
// (and removed) once older than the sign-in state's life.
(function () {
  "use strict";
  var KEY = "focus:kept-form";
  var SKIP_TYPES = { hidden: 1, password: 1, file: 1, submit: 1, button: 1, image: 1, reset: 1 };
  var CSRF = /csrf|xsrf|authenticity_token|requestverificationtoken/i;

  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  var data = document.getElementById("focus-kept-form");
  if (data) {
    var kept = null;
    try { kept = JSON.parse(data.textContent || "null"); } catch (e) { kept = null; }
    if (!kept || typeof kept.signin !== "string") return;
    var store = storage();
    try {
      if (store) {
        store.setItem(KEY, JSON.stringify({
          action: kept.action, fields: kept.fields, until: Date.now() + kept.max_age * 1000
        }));
      }
    } catch (e) { /* storage full or disabled: the form is lost, the sign-in still goes on */ }
    location.replace(kept.signin);
    return;
  }

  function target(url) {
    try { var u = new URL(url, location.href); return u.pathname + u.search; } catch (e) { return null; }
  }

  function find(action) {
    var wanted = target(action);
    for (var i = 0; i < document.forms.length; i++) {
      var form = document.forms[i];
      if ((form.method || "").toLowerCase() !== "post") continue;
      var controls = form.elements;
      for (var j = 0; j < controls.length; j++) {
        var el = controls[j];
        if (el.hasAttribute && el.hasAttribute("formaction") && target(el.formAction) === wanted) {
          return { form: form, submitter: el };
        }
      }
      if (target(form.action) === wanted) return { form: form, submitter: null };
    }
    return null;
  }

  function fill(form, fields) {
    var values = {};
    for (var i = 0; i < fields.length; i++) {
      var name = fields[i][0];
      (values[name] = values[name] || []).push(String(fields[i][1]));
    }
    var used = {};
    var controls = form.elements;
    for (var j = 0; j < controls.length; j++) {
      var el = controls[j];
      var type = (el.type || "").toLowerCase();
      if (!el.name || el.disabled || SKIP_TYPES[type] || CSRF.test(el.name)) continue;
      var given = values[el.name] || [];
      if (type === "checkbox" || type === "radio") {
        el.checked = given.indexOf(el.value) >= 0;
      } else if (el.tagName === "SELECT") {
        for (var k = 0; k < el.options.length; k++) {
          el.options[k].selected = given.indexOf(el.options[k].value) >= 0;
        }
      } else {
        var at = used[el.name] || 0;
        if (at >= given.length) continue;
        el.value = given[at];
        used[el.name] = at + 1;
      }
      el.dispatchEvent(new Event("input", { bubbles: true }));
      el.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  function notice(form, submitter) {
    var box = document.createElement("div");
    box.id = "focus-kept-notice";
    box.className = "focus-kept-notice";
    box.setAttribute("role", "status");
    box.style.border = "2px solid #1d4ed8";
    box.style.borderRadius = "6px";
    box.style.padding = "0.75em 1em";
    box.style.margin = "0 0 1em";
    var text = document.createElement("p");
    text.textContent = "You were signed in again. Your form is filled in as you left it; nothing has been sent yet.";
    var button = document.createElement("button");
    button.type = "button";
    button.id = "focus-continue";
    button.textContent = "Continue";
    button.addEventListener("click", function () {
      button.disabled = true;
      if (typeof form.requestSubmit === "function") form.requestSubmit(submitter || undefined);
      else if (submitter) submitter.click();
      else form.submit();
    });
    box.appendChild(text);
    box.appendChild(button);
    form.parentNode.insertBefore(box, form);
    try { box.scrollIntoView({ block: "center" }); } catch (e) { /* old browser */ }
    button.focus();
  }

  function restore() {
    var store = storage();
    if (!store) return;
    var kept = null;
    try { kept = JSON.parse(store.getItem(KEY) || "null"); } catch (e) { kept = null; }
    if (!kept) { try { store.removeItem(KEY); } catch (e) { /* disabled */ } return; }
    if (!(kept.until > Date.now()) || typeof kept.action !== "string" || !Array.isArray(kept.fields)) {
      store.removeItem(KEY);  // past the sign-in state's life, or not ours
      return;
    }
    var match = find(kept.action);
    if (!match) return;  // another page of the app: kept until the form's page or its end of life
    store.removeItem(KEY);
    fill(match.form, kept.fields);
    notice(match.form, match.submitter);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", restore);
  else restore();
})();
