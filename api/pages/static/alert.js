/* An alert's page: the rectification (or a city's verification report) is text plus attachment references
 * ({name, url, sha256}) as POST /api/v1/alerts/{id}/rectify takes them. wl.js sends the form once per key. */
(function () {
  'use strict';
  function trim(v) { return (v || '').replace(/^\s+|\s+$/g, ''); }

  WL.builders.rectify = function (form) {
    var text = trim(form.elements.text.value), rows = form.querySelectorAll('.attachment'), out = [], i, r, name, url, sha;
    if (text.length < 2) { throw new Error('请写明整改（核查）情况，至少 2 个字。'); }
    for (i = 0; i < rows.length; i++) {
      r = rows[i];
      name = trim(r.querySelector('[data-k=name]').value);
      url = trim(r.querySelector('[data-k=url]').value);
      sha = trim(r.querySelector('[data-k=sha256]').value).toLowerCase();
      if (!name && !url && !sha) { continue; }
      if (!name || !url) { throw new Error('附件 ' + (i + 1) + '：请同时填写名称和存放地址。'); }
      if (sha && !/^[0-9a-f]{64}$/.test(sha)) { throw new Error('附件 ' + (i + 1) + '：SHA-256 应为 64 位十六进制，不知道可留空。'); }
      out.push(sha ? { name: name, url: url, sha256: sha } : { name: name, url: url });
    }
    return { text: text, attachments: out };
  };

  var add = document.getElementById('add-attachment');
  if (add) {
    add.addEventListener('click', function () {
      var rows = document.querySelectorAll('#attachments .attachment');
      if (rows.length >= 20) { return; }
      var copy = rows[0].cloneNode(true), inputs = copy.querySelectorAll('input'), i;
      for (i = 0; i < inputs.length; i++) { inputs[i].value = ''; }
      add.parentNode.insertBefore(copy, add);
      inputs[0].focus();
    });
  }
})();
