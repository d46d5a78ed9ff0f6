/* Builders for the unit's collection and webhook forms (wl.js sends them with an Idempotency-Key):
 * consent  a producer's grant: waste codes typed as a list ("HW08, 900-214-08");
 * webhook  a subscription: the ticked events as a list; the answer's secret is shown once, then forgotten;
 * plan     a yearly management plan: one item per filled row (code, planned kg, receivers, methods);
 * lot      a lot at a centre: the ticked sources as ids; the new lot's page opens.
 */
(function () {
  'use strict';
  var WL = window.WL;
  if (!WL) { return; }

  function val(form, name) {
    var el = form.elements[name];
    return el ? (el.value || '').replace(/^\s+|\s+$/g, '') : '';
  }

  function ticked(form, name) {
    var out = [], els = form.querySelectorAll('input[type=checkbox][name=' + name + ']'), i;
    for (i = 0; i < els.length; i++) { if (els[i].checked) { out.push(els[i].value); } }
    return out;
  }

  WL.builders.consent = function (form) {
    var body = WL.formData(form), codes = val(form, 'waste_codes');
    body.waste_codes = codes ? codes.split(/[\s,，、;；]+/).filter(function (c) { return c; }) : [];
    if (!body.collector_id) { throw new Error('请选择收集单位'); }
    return body;
  };

  WL.builders.webhook = function (form) {
    var body = WL.formData(form);
    delete body.event;
    body.events = ticked(form, 'event');
    if (!/^https?:\/\/\S+$/.test(body.url || '')) { throw new Error('接收地址应以 https:// 或 http:// 开头'); }
    return body;
  };

  /* A plan: one item per filled row (code, planned kg, the selected receivers, the methods typed as a list). */
  WL.builders.plan = function (form) {
    var body = { year: parseInt(val(form, 'year'), 10), items: [] }, note = val(form, 'note'),
      rows = form.querySelectorAll('tr.plan-row'), i, j, r, code, kg, opts, ids, methods;
    if (note) { body.note = note; }
    for (i = 0; i < rows.length; i++) {
      r = rows[i];
      code = r.querySelector('[name=row_code]').value.replace(/\s+/g, '').toUpperCase();
      kg = r.querySelector('[name=row_kg]').value.replace(/^\s+|\s+$/g, '');
      if (!code && !kg) { continue; }
      if (!code) { throw new Error('第 ' + (i + 1) + ' 行：请填写废物代码'); }
      if (!kg) { throw new Error('第 ' + (i + 1) + ' 行（' + code + '）：请填写计划量'); }
      ids = [];
      opts = r.querySelector('[name=row_receivers]').options;
      for (j = 0; j < opts.length; j++) { if (opts[j].selected) { ids.push(parseInt(opts[j].value, 10)); } }
      methods = r.querySelector('[name=row_methods]').value.toUpperCase().split(/[\s,，、;；]+/)
        .filter(function (m) { return m; });
      body.items.push({ waste_code: code, planned_kg: kg, receiver_ids: ids, methods: methods });
    }
    if (!body.items.length) { throw new Error('至少填写一行：废物代码和计划量'); }
    return body;
  };

  WL.builders.lot = function (form) {
    var body = WL.formData(form), ids = ticked(form, 'source'), i;
    delete body.source;
    if (ids.length < 2) { throw new Error('至少勾选 2 批才能并批'); }
    body.source_ids = [];
    for (i = 0; i < ids.length; i++) { body.source_ids.push(parseInt(ids[i], 10)); }
    return body;
  };

  document.addEventListener('wl:done', function (e) {
    var form = e.target, data = e.detail || {};
    if (form.id === 'webhook-form' && data.secret) {
      var box = document.getElementById('webhook-secret');
      document.getElementById('webhook-secret-value').textContent = data.secret;
      box.hidden = false;
      form.hidden = true;
      box.scrollIntoView();
    } else if (form.getAttribute('data-lot-base') && data.lot) {
      location.href = form.getAttribute('data-lot-base') + data.lot.lot_id;
    }
  });

  /* The sum of the ticked sources, beside each lot form's button. */
  function sums() {
    var forms = document.querySelectorAll('form.lot-form'), i, j, boxes, g, n, out;
    for (i = 0; i < forms.length; i++) {
      boxes = forms[i].querySelectorAll('input[name=source]');
      g = 0; n = 0;
      for (j = 0; j < boxes.length; j++) {
        if (boxes[j].checked) { g += Math.round(parseFloat(boxes[j].getAttribute('data-kg')) * 1000); n++; }
      }
      out = forms[i].querySelector('.lot-sum');
      if (!out) {
        out = document.createElement('p');
        out.className = 'lot-sum small';
        forms[i].insertBefore(out, forms[i].querySelector('[type=submit]'));
      }
      out.textContent = '已选 ' + n + ' 批，共 ' + WL.kg((g / 1000).toFixed(3)) + ' kg';
    }
  }
  document.addEventListener('change', function (e) { if (e.target.name === 'source') { sums(); } });
  sums();
})();
