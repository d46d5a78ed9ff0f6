/* The label page prints itself once its image has loaded (when opened with ?print=1). */
(function () {
  'use strict';
  var img = document.getElementById('label');
  if (!img || img.getAttribute('data-autoprint') !== '1') { return; }
  var printed = false;
  function go() {
    if (printed) { return; }
    printed = true;
    window.print();
  }
  if (img.complete && img.naturalWidth) { go(); } else { img.onload = go; }
})();
