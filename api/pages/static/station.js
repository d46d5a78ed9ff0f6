/* The weighing station: record a batch (POST /api/v1/batches, one Idempotency-Key per weighing, so Enter
 * pressed again after a network error can never record it twice), show and print its label, open a scanned
 * label with its next actions. Keys: Enter records, F2 scan field, F4 gross weight, Esc closes the batch. */
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  var data = JSON.parse($('station-data').textContent);
  var unit = data.unit_id, prefsKey = 'station:' + unit;
  var form = $('weigh'), msg = $('weigh-msg'), code = $('waste_code'), other = $('waste_code_other');
  var gross = $('gross_kg'), scan = $('scan'), panel = $('batch-panel'), frame = $('print-frame');
  var prefs = WL.store.get(prefsKey, {});
  var pending = null;

  function setSelect(sel, value) {
    var i;
    for (i = 0; i < sel.options.length; i++) { if (sel.options[i].value === String(value)) { sel.selectedIndex = i; return true; } }
    return false;
  }

  function applyDefaults(c) {
    var d = data.codes[c];
    if (!d) { return; }
    if (d.name) { $('name').value = d.name; }
    if (d.form) { setSelect($('form'), d.form); }
    if (d.container_type) { setSelect($('container_type'), d.container_type); }
    $('container_volume_l').value = d.container_volume_l === null || d.container_volume_l === undefined ? '' : d.container_volume_l;
    if (d.tare_kg !== null && d.tare_kg !== undefined) { $('tare_kg').value = d.tare_kg; }
  }

  function codeChanged() {
    other.hidden = code.value !== '';
    if (code.value === '') { other.focus(); } else { applyDefaults(code.value); }
  }

  $('operator').value = prefs.operator || data.operator || '';
  if (prefs.scale_id) { $('scale_id').value = prefs.scale_id; }
  if (prefs.store !== undefined) { setSelect($('store_facility_id'), prefs.store); }
  if (prefs.autoprint === false) { $('autoprint').checked = false; }
  if (prefs.code) { setSelect(code, prefs.code); }
  code.addEventListener('change', codeChanged);
  other.hidden = code.value !== '';
  applyDefaults(code.value);

  function showLabel(b) {
    $('label-card').hidden = false;
    $('label-img').src = '/api/v1/batches/' + b.id + '/label.png';
    $('label-info').textContent = b.batch_code + ' · ' + b.digital_id + ' · 净重 ' + WL.kg(b.net_kg) + ' kg';
    $('label-pdf').href = '/api/v1/batches/' + b.id + '/label.pdf';
    $('reprint').setAttribute('data-print', b.id);
  }

  function printLabel(id) { frame.src = '/station/label/' + id + '?print=1'; }
  /* Printing happens in the frame; the keyboard stays on the station. */
  frame.addEventListener('load', function () {
    var a = document.activeElement;
    if (a === frame || a === document.body || !a) { gross.focus(); }
  });

  function refreshRecent() {
    WL.fragment('/station/recent?unit_id=' + unit, function (st, html) {
      if (st === 200) { $('recent').innerHTML = html; }
    });
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var body = WL.formData(form), btn = $('record');
    body.unit_id = unit;
    body.waste_code = code.value || other.value.replace(/^\s+|\s+$/g, '');
    if (!body.waste_code) { WL.msg(msg, '请选择或输入废物代码', 'bad'); (code.value ? code : other).focus(); return; }
    if (!body.gross_kg) { WL.msg(msg, '请输入毛重', 'bad'); gross.focus(); return; }
    var fp = JSON.stringify(body);
    if (!pending || pending.fp !== fp) { pending = { key: WL.key(), fp: fp, at: new Date().toISOString() }; }
    body.occurred_at = pending.at;
    WL.store.set(prefsKey, { operator: body.operator, scale_id: body.scale_id, store: $('store_facility_id').value,
      autoprint: $('autoprint').checked, code: code.value });
    btn.disabled = true;
    WL.msg(msg, '正在记录…', 'wait');
    WL.send('POST', '/api/v1/batches', body, pending.key, function (st, b) {
      btn.disabled = false;
      if (st === 201 || st === 200) {
        pending = null;
        showLabel(b);
        WL.msg(msg, '已记录 ' + b.batch_code + ' · 净重 ' + WL.kg(b.net_kg) + ' kg' + (b.status === 'stored' ? ' · 已入库' : '') +
          ($('autoprint').checked ? ' · 正在打印标签' : ''), 'ok');
        if ($('autoprint').checked) { printLabel(b.id); }
        gross.value = '';
        gross.focus();
        refreshRecent();
      } else if (WL.retryable(st, b)) {
        WL.msg(msg, WL.errorText(st, b) + '。记录未确认：按 Enter 重试（同一记录不会重复）。', 'wait');
        btn.focus();
      } else {
        pending = null;
        WL.msg(msg, WL.errorText(st, b), 'bad');
        var field = b && b.error && b.error.details && b.error.details.field;
        var el = field && form.elements[field];
        if (el && el.focus) { el.focus(); }
      }
    });
  });

  function openBatch(did) {
    if (!did) { return; }
    panel.innerHTML = '<p class="msg wait">正在查找 ' + did.replace(/[^A-Z0-9-]/g, '') + '…</p>';
    WL.fragment('/station/batch/' + encodeURIComponent(did) + '?unit_id=' + unit, function (st, html) {
      if (!st) { panel.innerHTML = '<p class="msg bad">网络中断，请重新扫描。</p>'; return; }
      panel.innerHTML = html;
      var first = panel.querySelector('.action-form select, .action-form input:not([type=hidden]), .action-form button');
      if (first) { first.focus(); } else { scan.focus(); }
    });
  }

  scan.addEventListener('keydown', function (e) {
    if (e.keyCode !== 13) { return; }
    e.preventDefault();
    var did = WL.parseLabel(scan.value);
    scan.value = '';
    openBatch(did);
  });

  panel.addEventListener('wl:done', function () {
    var b = panel.querySelector('#batch');
    if (b) { openBatch(b.getAttribute('data-digital-id')); }
    refreshRecent();
  });

  document.addEventListener('click', function (e) {
    var t = e.target;
    if (!t.getAttribute) { return; }
    if (t.getAttribute('data-print')) {
      printLabel(t.getAttribute('data-print'));
      showLabel({ id: t.getAttribute('data-print'), batch_code: '', digital_id: '', net_kg: '' });
      $('label-info').textContent = '正在重新打印';
    } else if (t.getAttribute('data-open')) {
      openBatch(t.getAttribute('data-open'));
    }
  });

  document.addEventListener('keydown', function (e) {
    if (e.keyCode === 113) { e.preventDefault(); scan.focus(); scan.select(); }          // F2
    else if (e.keyCode === 115) { e.preventDefault(); gross.focus(); gross.select(); }    // F4
    else if (e.keyCode === 27 && panel.contains(document.activeElement)) { panel.innerHTML = ''; scan.focus(); }
  });

  setInterval(function () {
    if (document.hidden || $('recent').contains(document.activeElement)) { return; }
    refreshRecent();
  }, 20000);

  if (scan.value) { openBatch(WL.parseLabel(scan.value)); scan.value = ''; }
})();
