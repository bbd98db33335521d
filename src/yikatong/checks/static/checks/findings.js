/* Findings inbox: select all on the page, the count of checked findings, and a confirmation before a bulk
   decision. The server checks everything again (role, scope, state of each finding). */
(function () {
  "use strict";
  function init(form) {
    var all = form.querySelector("[data-select-all]");
    var count = form.querySelector("[data-selected-count]");
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
    form.addEventListener("change", function (event) {
      if (event.target && event.target.name === "ids") update();
    });
    update();
    form.dataset.ready = "1";
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-findings-form]").forEach(init);
  });
})();
