/* Small progressive enhancements shared by every page (no inline scripts needed). */
(function () {
  "use strict";

  // Forms with [data-kind-switch]: show only the fields of the chosen kind.
  // A field wrapper names its kinds in data-kinds="threshold state"; others are hidden and disabled.
  function applyKind(form) {
    var select = form.querySelector("[data-kind-switch]");
    if (!select) return;
    var kind = select.value;
    form.querySelectorAll("[data-kinds]").forEach(function (el) {
      var on = el.getAttribute("data-kinds").split(/\s+/).indexOf(kind) >= 0;
      el.classList.toggle("d-none", !on);
      el.querySelectorAll("input, select, textarea").forEach(function (f) { f.disabled = !on; });
    });
  }

  // Metric selects filtered by the chosen target (device / model): options carry data-model="<model key>".
  function applyTarget(form) {
    var target = form.querySelector("[data-target-switch]");
    var metric = form.querySelector("[data-metric-select]");
    if (!target || !metric) return;
    var opt = target.options[target.selectedIndex];
    var model = opt ? opt.getAttribute("data-model") : null;
    var firstVisible = null;
    Array.prototype.forEach.call(metric.options, function (o) {
      var m = o.getAttribute("data-model");
      var show = !m || m === model;
      o.hidden = !show;
      o.disabled = !show;
      if (show && o.value && !firstVisible) firstVisible = o;
    });
    var cur = metric.options[metric.selectedIndex];
    if (cur && cur.disabled && firstVisible) metric.value = firstVisible.value;
  }

  // Checkbox lists: a [data-check-all] box toggles every [data-check-item] box in the same form.
  function wireCheckAll(root) {
    root.querySelectorAll("[data-check-all]").forEach(function (all) {
      if (all.dataset.wired) return;
      all.dataset.wired = "1";
      all.addEventListener("change", function () {
        var scope = document.getElementById(all.getAttribute("data-check-all")) || document;
        scope.querySelectorAll("[data-check-item]").forEach(function (b) { b.checked = all.checked; });
      });
    });
  }

  // A quota adjustment field shows the quota it would give: data-quota-now + typed amount -> #quota-after.
  function wireQuota(root) {
    root.querySelectorAll("[data-quota-now]").forEach(function (input) {
      if (input.dataset.wired) return;
      input.dataset.wired = "1";
      var out = document.getElementById("quota-after");
      var now = parseFloat(input.getAttribute("data-quota-now"));
      function show() {
        var delta = parseFloat(input.value.replace(/[,，\s]/g, "").replace("−", "-"));
        var after = now + (isFinite(delta) ? delta : 0);
        if (out) out.textContent = Math.round(after).toLocaleString();
      }
      input.addEventListener("input", show);
      show();
    });
  }

  function init(root) {
    root.querySelectorAll("form").forEach(function (form) {
      if (form.dataset.enhanced) return;
      var kind = form.querySelector("[data-kind-switch]");
      var target = form.querySelector("[data-target-switch]");
      if (!kind && !target) return;
      form.dataset.enhanced = "1";
      if (kind) kind.addEventListener("change", function () { applyKind(form); });
      if (target) target.addEventListener("change", function () { applyTarget(form); });
      applyKind(form);
      applyTarget(form);
    });
    wireCheckAll(root);
    wireQuota(root);
  }

  // <form data-confirm="question">: asks before submitting (instead of an inline onsubmit handler, which the
  // Content-Security-Policy would block).
  document.addEventListener("submit", function (e) {
    var form = e.target.closest ? e.target.closest("form[data-confirm]") : null;
    if (form && !window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
  }, true);

  // A polling element with data-pause-while-checked skips its refresh while a box in it is ticked
  // (instead of an hx-trigger filter expression, which htmx would have to eval).
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail && e.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-pause-while-checked") &&
        elt.querySelector("[data-check-item]:checked")) e.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (e) { init(e.target); });
})();
