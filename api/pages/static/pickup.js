/* Pickup orders on a phone: the one-step order (codes with estimated kg, a day and a time of day, the address),
 * scheduling (vehicle, driver, the method per line) and the weighing at the door. wl.js sends the forms with an
 * Idempotency-Key; the weighing goes into the outbox (kept in localStorage, sent again with the same key when the
 * network comes back), so a garage without signal loses nothing. The producer's password is never stored. */
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  function trim(v) { return (v || '').replace(/^\s+|\s+$/g, ''); }
  function num(v) { v = trim(v); return v === '' || isNaN(Number(v)) ? null : v; }
  function k(row, key) { var el = row.querySelector('[data-k=' + key + ']'); return el ? trim(el.value) : ''; }
  /* Shanghai wall-clock times of each slot: the business day is Asia/Shanghai whatever the phone's zone. */
  var SLOTS = { am: ['08:00', '12:00'], pm: ['13:00', '18:00'], day: ['08:00', '18:00'] };

  WL.builders.order = function (form) {
    var rows = form.querySelectorAll('.order-line'), lines = [], i, r, kg, code, name;
    for (i = 0; i < rows.length; i++) {
      r = rows[i];
      kg = k(r, 'kg');
      code = r.getAttribute('data-code') || k(r, 'code').toUpperCase();
      if (!kg && (!code || r.getAttribute('data-code'))) { continue; }
      if (!code) { throw new Error('请填写“其他废物代码”，或清空它的重量。'); }
      if (num(kg) === null || Number(kg) <= 0) { throw new Error(code + '：预估重量应为大于 0 的数字（kg）。'); }
      name = r.getAttribute('data-name');
      lines.push(name ? { waste_code: code, name: name, form: k(r, 'form'), estimated_kg: kg }
        : { waste_code: code, form: k(r, 'form'), estimated_kg: kg });
    }
    if (!lines.length) { throw new Error('请至少为一种废物填写预估重量。'); }
    var day = trim(form.elements.day.value), slot = SLOTS[form.elements.slot.value] || SLOTS.day;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) { throw new Error('请选择希望上门的日期。'); }
    var body = WL.formData(form);
    delete body.day; delete body.slot;
    body.unit_id = parseInt(body.unit_id, 10);
    body.lines = lines;
    body.window_from = day + 'T' + slot[0] + ':00+08:00';
    body.window_to = day + 'T' + slot[1] + ':00+08:00';
    if (!body.address) { throw new Error('请填写上门地址。'); }
    return body;
  };

  var orderForm = $('order-form');
  if (orderForm) {
    orderForm.addEventListener('wl:done', function (e) {
      if (e.detail && e.detail.id) { location.href = '/pickup/' + e.detail.id; }
    });
  }

  WL.builders.schedule = function (form) {
    var body = WL.formData(form), sel = form.querySelectorAll('[data-method-line]'), i, methods = {};
    for (i = 0; i < sel.length; i++) {
      if (!sel[i].value) { throw new Error('请为第 ' + sel[i].getAttribute('data-method-line') + ' 行选择拟利用处置方式。'); }
      methods[sel[i].getAttribute('data-method-line')] = sel[i].value;
    }
    if (!body.pickup_date) { throw new Error('请选择上门日期。'); }
    if (!body.vehicle_id) { throw new Error('请选择车辆（收集单位尚未登记车辆时，请先登记）。'); }
    body.planned_methods = methods;
    return body;
  };

  /* ---- the weighing at the door -------------------------------------------------------------------------- */
  var wf = $('weigh-form');
  if (!wf) { return; }
  var adders = wf.querySelectorAll('.add-weighing'), a;
  for (a = 0; a < adders.length; a++) {
    adders[a].addEventListener('click', function () {
      var box = this.parentNode.querySelector('.weighings'), rows = box.querySelectorAll('.weighing');
      var copy = rows[rows.length - 1].cloneNode(true), inputs = copy.querySelectorAll('input'), i;
      for (i = 0; i < inputs.length; i++) {
        inputs[i].removeAttribute('id');
        if (inputs[i].getAttribute('data-k') === 'gross_kg') { inputs[i].value = ''; }
      }
      box.appendChild(copy);
      copy.querySelector('input').focus();
    });
  }

  function weighBody() {
    var fs = wf.querySelectorAll('.weigh-line'), lines = [], i, j, rows, r, g, t, cnt, ws, ids, boxes, any = false;
    for (i = 0; i < fs.length; i++) {
      ws = []; ids = [];
      rows = fs[i].querySelectorAll('.weighing');
      for (j = 0; j < rows.length; j++) {
        r = rows[j];
        g = k(r, 'gross_kg'); t = k(r, 'tare_kg') || '0'; cnt = k(r, 'container_count') || '1';
        if (!g) { continue; }
        if (num(g) === null || num(t) === null) { throw new Error('第 ' + fs[i].getAttribute('data-line') + ' 行：重量应为数字（kg）。'); }
        ws.push({ gross_kg: g, tare_kg: t, container_type: k(r, 'container_type'), container_count: parseInt(cnt, 10) || 1 });
      }
      boxes = fs[i].querySelectorAll('[data-batch]');
      for (j = 0; j < boxes.length; j++) { if (boxes[j].checked) { ids.push(parseInt(boxes[j].getAttribute('data-batch'), 10)); } }
      if (ws.length || ids.length) { any = true; }
      lines.push({ line_no: parseInt(fs[i].getAttribute('data-line'), 10), weighings: ws, batch_ids: ids });
    }
    if (!any) { throw new Error('还没有称重：请填写毛重，或勾选已贴标签的批次。'); }
    var scale = trim(wf.elements.scale_id.value);
    if (!scale) { throw new Error('请填写使用的秤。'); }
    return { scale_id: scale, weighed_on: wf.elements.weighed_on.value, lines: lines };
  }

  var page = location.pathname, url = wf.getAttribute('data-api'), btn = $('weigh-submit');
  if (WL.outbox.has(page, url)) { btn.disabled = true; btn.textContent = '已提交，等待发送'; }
  wf.addEventListener('submit', function (e) {
    e.preventDefault();
    if (WL.outbox.has(page, url)) { return; }
    var body;
    try { body = weighBody(); } catch (err) { WL.msg($('weigh-msg'), err.message, 'bad'); return; }
    WL.msg($('weigh-msg'), '');
    btn.disabled = true;
    btn.textContent = '已提交，等待发送';
    WL.outbox.add({ url: url, body: body, label: wf.getAttribute('data-label'), page: page });
  });
})();
