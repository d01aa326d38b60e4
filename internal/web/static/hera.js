// Hera's only script. It wires Kratos's WebAuthn/passkey functions (from
// /.well-known/ory/webauthn.js, loaded same-origin) to their buttons, so no
// inline handlers are needed and the CSP forbids them, and it shows the
// times of the account's activity in the browser's own time zone. Everything
// else on Hera's pages works without JavaScript (times then stay in UTC,
// the zone named).
"use strict";
// Only Kratos's own functions may be called.
function heraCall(name) {
  if (!/^ory[A-Za-z]+$/.test(name || "")) return;
  var fn = window[name];
  if (typeof fn === "function") fn();
}
document.documentElement.classList.add("js");

document.addEventListener("click", function (ev) {
  var el = ev.target.closest("[data-hera-trigger]");
  if (!el) return;
  ev.preventDefault();
  heraCall(el.getAttribute("data-hera-trigger"));
});

window.addEventListener("load", function () {
  var done = {};
  document.querySelectorAll("[data-hera-onload]").forEach(function (el) {
    var name = el.getAttribute("data-hera-onload");
    if (done[name]) return;
    done[name] = true;
    heraCall(name);
  });
});

// Times the server wrote in UTC (<time datetime data-hera-local>) in the
// reader's time zone, in the page's language, the zone named.
function heraLocalTimes() {
  if (typeof Intl !== "object" || !Intl.DateTimeFormat) return;
  var fmt;
  try {
    fmt = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "numeric", minute: "2-digit", timeZoneName: "short"
    });
  } catch (e) {
    return;
  }
  document.querySelectorAll("time[data-hera-local][datetime]").forEach(function (el) {
    var d = new Date(el.getAttribute("datetime"));
    if (isNaN(d.getTime())) return;
    el.setAttribute("title", el.textContent);
    el.textContent = fmt.format(d);
  });
}
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", heraLocalTimes);
} else {
  heraLocalTimes();
}
