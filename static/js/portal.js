// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Thumbnails live in remote buckets: when one cannot load, show the placeholder under it.
  document.addEventListener(
    "error",
    function (event) {
      var target = event.target;
      if (target instanceof HTMLImageElement && target.classList.contains("thumb")) {
        target.remove();
      }
    },
    true
  );

  // Images that failed before this script ran.
  document.querySelectorAll("img.thumb").forEach(function (image) {
    if (image.complete && image.naturalWidth === 0) image.remove();
  });

  // Copy buttons: <button data-copy-target="id"> copies that element's text.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = source.textContent.trim();
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.setAttribute("aria-live", "polite");
      window.setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
      try { document.execCommand("copy"); done(); } catch (e) { /* text stays selected for manual copy */ }
    }
  });

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // Layer picker: keep the button's count in step with the ticked volumes.
  function updatePicker(form) {
    var ticked = form.querySelectorAll('input[name="volumes"]:checked').length;
    var button = form.querySelector("[data-picker-submit]");
    var status = form.querySelector("[data-picker-status]");
    if (button) button.disabled = ticked === 0;
    if (status) {
      status.textContent = ticked === 0 ? "Tick volumes to combine them in one view." :
        ticked + (ticked === 1 ? " layer selected" : " layers selected");
    }
  }
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-layer-picker]");
    if (form) updatePicker(form);
  });
  document.querySelectorAll("form[data-layer-picker]").forEach(updatePicker);
})();

// Shareable URLs: leave blank fields (an empty search box, "any", the default layout) out of
// the query string that htmx sends and pushes to the address bar.
document.addEventListener("htmx:configRequest", function (event) {
  var form = event.detail.elt;
  var data = event.detail.formData;
  if (!form.matches || !form.matches("form[role=search]") || !data) return;
  var blank = [];
  data.forEach(function (value, key) {
    if (typeof value === "string" && (!value.trim() || (key === "layout" && value === "grid"))) blank.push(key);
  });
  blank.forEach(function (key) { data.delete(key); });
});

// Phones: the filter panel starts folded, and keeps whatever state the reader gave it when
// htmx swaps in new results and counts.
(function () {
  "use strict";
  var narrow = window.matchMedia("(max-width: 900px)");
  var filtersOpen = narrow.matches ? false : null;
  function apply() {
    var panel = document.querySelector("details.filters");
    if (panel && filtersOpen !== null) panel.open = filtersOpen;
  }
  document.addEventListener("toggle", function (event) {
    if (event.target.matches && event.target.matches("details.filters") && narrow.matches) {
      filtersOpen = event.target.open;
    }
  }, true);
  document.addEventListener("htmx:afterSwap", apply);
  document.addEventListener("DOMContentLoaded", apply);
  if (document.readyState !== "loading") apply();
})();

// Keep the tab title in step with the search after htmx swaps the results in.
document.addEventListener("htmx:afterSwap", function () {
  var body = document.getElementById("browse-body");
  if (body && body.dataset.pageTitle) document.title = body.dataset.pageTitle;
});
