// Hera's only script. It wires Kratos's WebAuthn/passkey functions (from
// /.well-known/ory/webauthn.js, loaded same-origin) to their buttons, so no
// inline handlers are needed and the CSP forbids them. Everything else on
// Hera's pages works without JavaScript.
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
