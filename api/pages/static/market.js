/* The trading hall (交易大厅): the producer's post form (a planned or recent code, or any other looked up in the
 * catalogue; a sample photo uploaded once the post exists), the photo form of a post, and the accept form (an
 * optional draft manifest). wl.js sends the JSON forms with an Idempotency-Key. A photo goes as multipart/form-data
 * built here with a boundary derived from its key, so a retry with the same key sends the same bytes and the API
 * replays the first answer instead of storing the photo twice. A photo over the API's 2 MiB is shrunk on the
 * phone first (canvas → JPEG). */
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  function trim(v) { return (v || '').replace(/^\s+|\s+$/g, ''); }
  var MAX = 2 * 1024 * 1024;
  var CODE = /^\d{3}-\d{3}-(\d{2}|S\d{2})$/;

  /* ---- photos ------------------------------------------------------------------------------------------ */
  function shrink(file, done) {
    if (file.size <= MAX || !window.URL || !document.createElement('canvas').toBlob) { done(file); return; }
    var img = new Image(), url = URL.createObjectURL(file);
    img.onload = function () {
      var scale = Math.min(1, 1600 / Math.max(img.width, img.height)), c = document.createElement('canvas');
      c.width = Math.round(img.width * scale); c.height = Math.round(img.height * scale);
      c.getContext('2d').drawImage(img, 0, 0, c.width, c.height);
      URL.revokeObjectURL(url);
      c.toBlob(function (b) { done(b || file); }, 'image/jpeg', 0.85);
    };
    img.onerror = function () { URL.revokeObjectURL(url); done(file); };
    img.src = url;
  }

  /* done(status, data); the same key and file give the same body. */
  function upload(url, file, key, done) {
    var boundary = '----wl' + key.replace(/[^0-9a-z]/gi, ''), type = file.type || 'application/octet-stream';
    var ext = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp' }[type] || 'bin';
    var head = '--' + boundary + '\r\nContent-Disposition: form-data; name="file"; filename="sample.' + ext +
      '"\r\nContent-Type: ' + type + '\r\n\r\n';
    var body = new Blob([head, file, '\r\n--' + boundary + '--\r\n']);
    var x = new XMLHttpRequest();
    x.open('POST', url, true);
    x.timeout = 60000;
    x.setRequestHeader('Content-Type', 'multipart/form-data; boundary=' + boundary);
    x.setRequestHeader('Accept', 'application/json');
    x.setRequestHeader('Idempotency-Key', key);
    x.onload = function () { var d = null; try { d = JSON.parse(x.responseText); } catch (e) { d = null; } done(x.status, d); };
    x.onerror = x.ontimeout = function () { done(0, null); };
    x.send(body);
  }

  /* Send the chosen photo (shrunk if need be) with one key per chosen file; then(ok, text). */
  function sendPhoto(input, url, then) {
    var file = input.files && input.files[0];
    if (!file) { then(true, ''); return; }
    if (!input._wl || input._wl.file !== file) { input._wl = { file: file, key: WL.key() }; }
    shrink(file, function (blob) {
      if (blob.size > MAX) { then(false, '照片大于 2 MB，请换一张较小的照片'); return; }
      upload(url, blob, input._wl.key, function (st, data) {
        if (st >= 200 && st < 300) { input._wl = null; then(true, ''); return; }
        if (!WL.retryable(st, data)) { input._wl = null; }
        then(false, WL.errorText(st, data));
      });
    });
  }

  /* ---- the post form ------------------------------------------------------------------------------------ */
  var pf = $('post-form');
  if (pf) {
    var sel = $('post-code'), other = $('post-code-other'), info = $('code-info'), name = $('post-name'), looked = '';
    var code = function () { return sel.value || trim(other.value).toUpperCase(); };
    var lookup = function () {
      var c = code();
      if (c === looked) { return; }
      looked = c;
      if (!c) { info.textContent = ''; return; }
      if (!CODE.test(c)) { info.textContent = '代码格式：如 900-214-08（危险废物）或 900-001-S03（一般工业固体废物）'; return; }
      if (c.indexOf('-S') > 0) { info.textContent = '一般工业固体废物'; return; }
      WL.send('GET', '/api/v1/catalogue/waste-codes/' + encodeURIComponent(c), null, null, function (st, d) {
        if (c !== looked) { return; }
        if (st === 200 && d) {
          info.textContent = d.category + ' ' + d.category_name + '：' + d.description + '（' + d.hazard + '）';
          if (!trim(name.value)) { name.value = d.category_name; }
        } else { info.textContent = st === 404 ? '名录中没有该代码，请核对' : '暂时无法查询名录'; }
      });
    };
    var chosen = function () {
      var o = sel.options[sel.selectedIndex];
      $('other-label').hidden = sel.value !== '';
      if (sel.value) {
        if (o.getAttribute('data-name')) { name.value = o.getAttribute('data-name'); }
        if (o.getAttribute('data-form')) { $('post-form-kind').value = o.getAttribute('data-form'); }
      } else { other.focus(); }
      lookup();
    };
    sel.addEventListener('change', chosen);
    other.addEventListener('input', lookup);
    chosen();

    WL.builders.post = function (form) {
      var body = WL.formData(form), c = code(), kg = body.monthly_kg;
      if (!c) { throw new Error('请选择或输入废物代码。'); }
      if (!CODE.test(c)) { throw new Error('废物代码格式不对：如 900-214-08。'); }
      if (!body.name) { throw new Error('请填写废物名称。'); }
      if (!kg || isNaN(Number(kg)) || Number(kg) <= 0) { throw new Error('每月的量应为大于 0 的数字（kg）。'); }
      if ((body.lat === undefined) !== (body.lon === undefined)) { throw new Error('纬度和经度请一起填写。'); }
      body.waste_code = c;
      return body;
    };
    pf.addEventListener('wl:done', function (e) {
      var id = e.detail && e.detail.id, msg = pf.querySelector('.msg'), photo = $('post-photo');
      if (!id) { return; }
      if (!photo.files || !photo.files[0]) { location.href = '/market/' + id; return; }
      WL.msg(msg, '已发布，正在上传照片…', 'wait');
      $('post-submit').disabled = true;
      sendPhoto(photo, '/api/v1/market/posts/' + id + '/photos', function (ok, text) {
        if (ok) { location.href = '/market/' + id; return; }
        WL.msg(msg, '已发布，但照片未上传：' + text + '。可在发布页重新上传。', 'bad');
        var a = document.createElement('a');
        a.href = '/market/' + id; a.textContent = '打开发布页'; a.className = 'btn small';
        msg.appendChild(document.createTextNode(' ')); msg.appendChild(a);
      });
    });
  }

  /* ---- a post's photo form ------------------------------------------------------------------------------- */
  var ph = $('photo-form');
  if (ph) {
    ph.addEventListener('submit', function (e) {
      e.preventDefault();
      var input = $('photo-file'), msg = $('photo-msg'), btn = $('photo-submit');
      if (!input.files || !input.files[0]) { WL.msg(msg, '请先选择一张照片', 'bad'); return; }
      btn.disabled = true;
      WL.msg(msg, '正在上传…', 'wait');
      sendPhoto(input, ph.getAttribute('data-api'), function (ok, text) {
        btn.disabled = false;
        if (ok) { location.reload(); } else { WL.msg(msg, text, 'bad'); }
      });
    });
  }

  /* ---- accepting an offer: with a receiver, optionally the first manifest's draft -------------------------- */
  var boxes = document.querySelectorAll('.with-manifest'), i;
  for (i = 0; i < boxes.length; i++) {
    boxes[i].addEventListener('change', function () {
      this.parentNode.parentNode.querySelector('.manifest-fields').hidden = !this.checked;
    });
  }
  WL.builders.accept = function (form) {
    var box = form.querySelector('.with-manifest');
    if (!box || !box.checked) { return {}; }
    var hv = form.querySelector('.m-vehicle').value.split(':'), day = form.querySelector('.m-date').value;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) { throw new Error('请选择计划转移日期。'); }
    return { manifest: { hauler_id: parseInt(hv[0], 10), vehicle_id: parseInt(hv[1], 10), planned_date: day } };
  };
})();
