/* Collection pages: live checks while typing (reusing static/registry/registry.js, which checks a field
   on blur), the entry form's person panel, and the batch bar (select all, count, reason/note hints).
   The server checks everything again. */
(function () {
  "use strict";

  var PERSON_FIELDS = ["name", "region_code", "phone"];
  var ACCOUNT_FIELDS = ["bank_name", "account_number"];
  var REASON_ACTIONS = ["return", "withdraw", "reject"];

  // registry.js validates a field on "blur"; while typing, run the same check after a short pause.
  function liveValidate(form) {
    var timers = {};
    form.addEventListener("input", function (event) {
      var input = event.target;
      if (!input.name || !input.dataset || !input.dataset.check) return;
      clearTimeout(timers[input.name]);
      timers[input.name] = setTimeout(function () {
        if ((input.value || "").trim()) input.dispatchEvent(new Event("blur"));
        else {
          var box = form.querySelector('[data-client-error="' + input.name + '"]');
          if (box) { box.hidden = true; box.textContent = ""; }
          input.setAttribute("aria-invalid", "false");
        }
      }, 250);
    });
  }

  function setHidden(form, names, hidden) {
    names.forEach(function (name) {
      var box = form.querySelector('[data-field="' + name + '"]');
      if (box) box.hidden = hidden;
    });
  }

  // The person panel says whether the ID is registered; the new-person fields show only when needed.
  function applyPersonPanel(form) {
    var panel = form.querySelector("#person-panel");
    if (!panel) return;
    var registered = panel.dataset.personState === "registered";
    setHidden(form, PERSON_FIELDS, registered);
    setHidden(form, ACCOUNT_FIELDS, registered && panel.dataset.needsAccount !== "1");
  }

  function batchBar(form) {
    var all = form.querySelector("[data-select-all]");
    var count = form.querySelector("[data-selected-count]");
    var action = form.querySelector("[data-batch-action]");
    function boxes() { return form.querySelectorAll('input[name="ids"]'); }
    function update() {
      var n = 0;
      boxes().forEach(function (box) {
        if (box.checked) n++;
        var row = box.closest("tr");
        if (row) row.classList.toggle("is-selected", box.checked);
      });
      if (count) count.textContent = String(n);
    }
    if (all) all.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
      update();
    });
    form.addEventListener("change", function (event) { if (event.target.name === "ids") update(); });
    function hints() {
      if (!action) return;
      var reason = form.querySelector("[data-batch-reason]");
      var note = form.querySelector("[data-batch-note]");
      var needsReason = REASON_ACTIONS.indexOf(action.value) >= 0;
      if (reason) reason.classList.toggle("is-required", needsReason);
      if (note) note.hidden = needsReason;
    }
    if (action) action.addEventListener("change", hints);
    hints();
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-live-validate]").forEach(function (form) {
      liveValidate(form);
      applyPersonPanel(form);
    });
    document.querySelectorAll("form[data-batch-form]").forEach(batchBar);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    // (an outerHTML swap may report the old, detached element: look the forms up again)
    document.querySelectorAll("form[data-live-validate]").forEach(applyPersonPanel);
    // the list's results were replaced: wire the new batch form
    if (event.target.id === "application-results") {
      event.target.querySelectorAll("form[data-batch-form]").forEach(batchBar);
    }
  });
})();
