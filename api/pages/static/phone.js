/* A manifest on a phone: the driver ticks off every label (typed, pasted, photographed, or scanned with the
 * camera app, which opens /s/… and comes back) and signs pickup; GPS points are sent while the page is open on
 * the road; the receiver weighs and accepts per line and signs. Every step goes to the outbox (wl.js): kept in
 * localStorage and sent with one Idempotency-Key until the server has it. What is typed is kept as it is typed. */
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  var data = JSON.parse($('manifest-data').textContent);
  var page = location.pathname, base = '/api/v1/manifests/' + data.id;
  var hasStep = !!(data.labels.length || data.track || $('receive-form') || document.querySelector('[data-step]'));
  var pos = null;

  /* ---- position: only where a step is signed or the load is on the road ---- */
  function where() { return pos ? { lat: pos.lat, lon: pos.lon } : {}; }
  function merge(a, b) { var k; for (k in b) { if (b.hasOwnProperty(k)) { a[k] = b[k]; } } return a; }

  var TRACK = 'track:' + data.number, SENDING = 'track-sending:' + data.number, lastPoint = 0;
  function gpsState(text) { var el = $('gps-state'); if (el && text) { el.textContent = text; } }

  function onPosition(p) {
    pos = { lat: Math.round(p.coords.latitude * 1e6) / 1e6, lon: Math.round(p.coords.longitude * 1e6) / 1e6 };
    document.body.setAttribute('data-gps', '1');  /* signatures from now on carry the position */
    if (!data.track) { return; }
    var now = new Date().getTime();
    if (now - lastPoint < 30000) { return; }
    lastPoint = now;
    var buf = WL.store.get(TRACK, []);
    var pt = { at: new Date(now).toISOString(), lat: pos.lat, lon: pos.lon };
    if (p.coords.speed !== null && p.coords.speed !== undefined && !isNaN(p.coords.speed)) { pt.speed_kmh = Math.round(p.coords.speed * 36) / 10; }
    buf.push(pt);
    WL.store.set(TRACK, buf.slice(-1000));
    sendTrack();
  }

  /* A batch of points is sent under one key until the server has it; new points wait for the next batch. */
  function sendTrack() {
    var batch = WL.store.get(SENDING, null), buf;
    if (!batch) {
      buf = WL.store.get(TRACK, []);
      if (!buf.length) { return; }
      batch = { key: WL.key(), points: buf.slice(0, 200) };
      WL.store.set(SENDING, batch);
      WL.store.set(TRACK, buf.slice(batch.points.length));
    }
    WL.send('POST', base + '/track', { points: batch.points }, batch.key, function (st, res) {
      if (st >= 200 && st < 300) {
        WL.store.del(SENDING);
        var c = $('track-count');
        if (c) { c.textContent = String(parseInt(c.textContent, 10) + (res && res.added !== undefined ? res.added : batch.points.length)); }
      } else if (!WL.retryable(st, res)) {
        WL.store.del(SENDING);  // refused (e.g. the trip has ended): drop these points
      }
    });
  }

  if (hasStep && navigator.geolocation) {
    navigator.geolocation.watchPosition(onPosition, function () {
      if (data.track) { gpsState('未开启定位：请在浏览器中允许本页使用位置，以记录运输轨迹。'); }
    }, { enableHighAccuracy: false, maximumAge: 60000, timeout: 30000 });
  }
  if (data.track) { setInterval(sendTrack, 60000); sendTrack(); }

  /* ---- pickup: every label on the manifest, none other ---- */
  if (data.labels.length) {
    var SCAN = 'scan:' + data.number, input = $('label-input'), lmsg = $('label-msg'), sign = $('sign-pickup');

    var renderPickup = function () {
      var scanned = WL.store.get(SCAN, []), items = $('pickup-lines').getElementsByTagName('li'), n = 0, i, li, ok;
      for (i = 0; i < items.length; i++) {
        li = items[i];
        ok = scanned.indexOf(li.getAttribute('data-digital-id')) >= 0;
        li.className = ok ? 'done' : 'todo';
        li.querySelector('.state').textContent = ok ? '已核对' : '未扫';
        if (ok) { n++; }
      }
      $('pickup-count').textContent = n + '/' + items.length;
      var waiting = WL.outbox.has(page, base + '/pickup');
      sign.disabled = n !== items.length || waiting;
      if (waiting) { sign.textContent = '已签字，等待发送'; }
    };

    var check = function (raw) {
      var did = WL.parseLabel(raw), scanned = WL.store.get(SCAN, []);
      if (!did) { return; }
      if (data.labels.indexOf(did) < 0) {
        WL.msg(lmsg, '标签 ' + did + ' 不在本联单上：不得装车。', 'bad');
        return;
      }
      if (scanned.indexOf(did) < 0) { scanned.push(did); WL.store.set(SCAN, scanned); }
      WL.msg(lmsg, '已核对：第 ' + (data.labels.indexOf(did) + 1) + ' 行', 'ok');
      renderPickup();
    };

    $('label-form').addEventListener('submit', function (e) {
      e.preventDefault();
      check(input.value);
      input.value = '';
      input.focus();
    });

    if (window.BarcodeDetector) {
      $('photo-scan').hidden = false;
      $('photo-scan').onclick = function () { $('photo-input').click(); };
      $('photo-input').onchange = function () {
        var f = this.files && this.files[0];
        if (!f || !window.createImageBitmap) { return; }
        window.createImageBitmap(f).then(function (img) {
          return new window.BarcodeDetector({ formats: ['qr_code'] }).detect(img);
        }).then(function (codes) {
          if (codes.length) { check(codes[0].rawValue); } else { WL.msg(lmsg, '照片中没有识别到二维码，请靠近重拍或手工输入。', 'bad'); }
        })['catch'](function () { WL.msg(lmsg, '无法识别照片，请手工输入。', 'bad'); });
      };
    }

    sign.addEventListener('click', function () {
      if (WL.outbox.has(page, base + '/pickup')) { return; }
      WL.outbox.add({ url: base + '/pickup', body: merge({ scanned: WL.store.get(SCAN, []) }, where()),
        label: '签字提货（联单 ' + data.number + '）', page: page, clear: [SCAN] });
      renderPickup();
    });
    renderPickup();
  }

  /* ---- single-button steps: arrival, return leg, taking back, submit, complete ---- */
  var steps = document.querySelectorAll('[data-step]'), s;
  for (s = 0; s < steps.length; s++) {
    (function (btn) {
      var url = btn.getAttribute('data-step');
      if (WL.outbox.has(page, url)) { btn.disabled = true; btn.textContent = '已提交，等待发送'; }
      btn.addEventListener('click', function () {
        if (WL.outbox.has(page, url)) { return; }
        btn.disabled = true;
        btn.textContent = '已提交，等待发送';
        WL.outbox.add({ url: url, body: btn.hasAttribute('data-nogeo') ? {} : where(),
          label: btn.getAttribute('data-label') + '（联单 ' + data.number + '）', page: page });
      });
    })(steps[s]);
  }

  /* ---- receipt: per line the weight, the acceptance, the reason; the typed values survive a reload ---- */
  var rf = $('receive-form');
  if (rf) {
    var DRAFT = 'draft:' + data.number, rmsg = $('receive-msg');
    var lines = rf.querySelectorAll('fieldset.line');

    var field = function (fs, name) { return fs.querySelector('[name=' + name + ']'); };
    var num = function (v) { v = (v || '').replace(/^\s+|\s+$/g, ''); return v === '' || isNaN(Number(v)) ? null : Number(v); };

    var toggle = function () {
      var i, fs, acc, over;
      for (i = 0; i < lines.length; i++) {
        fs = lines[i];
        acc = field(fs, 'acceptance').value;
        over = num(field(fs, 'received_kg').value) > Number(fs.getAttribute('data-shipped'));
        fs.querySelector('.when-partial').hidden = acc !== 'partially_refused';
        fs.querySelector('.when-refused').hidden = acc === 'accepted' && !over;
        fs.querySelector('.when-over').hidden = !over;
      }
    };

    var saveDraft = function () {
      var d = {}, els = rf.elements, i;
      for (i = 0; i < els.length; i++) { if (els[i].id) { d[els[i].id] = els[i].type === 'checkbox' ? els[i].checked : els[i].value; } }
      WL.store.set(DRAFT, d);
    };

    var draft = WL.store.get(DRAFT, null), id, el;
    if (draft) {
      for (id in draft) {
        if (draft.hasOwnProperty(id) && (el = $(id))) { if (el.type === 'checkbox') { el.checked = draft[id]; } else { el.value = draft[id]; } }
      }
    }
    toggle();
    rf.addEventListener('input', function () { toggle(); saveDraft(); });
    rf.addEventListener('change', function () { toggle(); saveDraft(); });

    if (WL.outbox.has(page, base + '/receive')) { $('sign-receive').disabled = true; $('sign-receive').textContent = '已签收，等待发送'; }

    rf.addEventListener('submit', function (e) {
      e.preventDefault();
      if (WL.outbox.has(page, base + '/receive')) { return; }
      var out = [], i, fs, rec, acc, item, reason, bad = null;
      for (i = 0; i < lines.length && !bad; i++) {
        fs = lines[i];
        rec = num(field(fs, 'received_kg').value);
        acc = field(fs, 'acceptance').value;
        reason = field(fs, 'reason').value.replace(/^\s+|\s+$/g, '');
        item = { batch_id: parseInt(fs.getAttribute('data-batch'), 10), received_kg: field(fs, 'received_kg').value.replace(/\s/g, ''), acceptance: acc };
        if (rec === null || (rec <= 0 && acc !== 'refused')) { bad = [field(fs, 'received_kg'), '请填写第 ' + fs.getAttribute('data-line') + ' 行的接收称重']; break; }
        if (acc === 'partially_refused') {
          var a = num(field(fs, 'accepted_kg').value);
          if (a === null || a <= 0 || a >= rec) { bad = [field(fs, 'accepted_kg'), '第 ' + fs.getAttribute('data-line') + ' 行：其中接收的重量应大于 0、小于接收称重']; break; }
          item.accepted_kg = field(fs, 'accepted_kg').value.replace(/\s/g, '');
        }
        if (acc !== 'accepted' && !reason) { bad = [field(fs, 'reason'), '第 ' + fs.getAttribute('data-line') + ' 行：请写明拒收原因']; break; }
        if (rec > Number(fs.getAttribute('data-shipped'))) {
          if (!field(fs, 'confirm_overweight').checked || !reason) { bad = [field(fs, 'confirm_overweight'), '第 ' + fs.getAttribute('data-line') + ' 行接收量超过运出量：请确认并写明原因']; break; }
          item.confirm_overweight = true;
        }
        if (reason) { item.reason = reason; }
        out.push(item);
      }
      if (bad) { WL.msg(rmsg, bad[1], 'bad'); bad[0].focus(); return; }
      var body = merge({ lines: out }, where());
      if ($('recv-facility')) { body.facility_id = parseInt($('recv-facility').value, 10); }
      WL.msg(rmsg, '');
      $('sign-receive').disabled = true;
      $('sign-receive').textContent = '已签收，等待发送';
      WL.outbox.add({ url: base + '/receive', body: body, label: '签收（联单 ' + data.number + '）', page: page, clear: [DRAFT] });
    });
  }
})();
