/* wasteledger pages: the little JavaScript they need, in ES5 (old weighing-station PCs, cheap phones).
 *
 * WL.send     one request to the JSON API, with an Idempotency-Key for writes.
 * WL.outbox   writes kept in localStorage until the server has confirmed them; sent again with the SAME key
 *             when the network comes back, so a retry can never record twice (the API replays the first answer).
 * action forms <form class="action-form" data-api="/api/v1/..."> are sent as JSON once per key.
 */
(function () {
  'use strict';
  var WL = window.WL = {};
  var PREFIX = 'wl:';

  WL.store = {
    get: function (k, d) {
      try { var v = window.localStorage.getItem(PREFIX + k); return v === null ? d : JSON.parse(v); } catch (e) { return d; }
    },
    set: function (k, v) { try { window.localStorage.setItem(PREFIX + k, JSON.stringify(v)); } catch (e) { /* full or private */ } },
    del: function (k) { try { window.localStorage.removeItem(PREFIX + k); } catch (e) { /* ignore */ } }
  };

  WL.key = function () {
    var c = window.crypto || window.msCrypto, s = 'pg-', i, a;
    if (c && c.getRandomValues) {
      a = new Uint8Array(16);
      c.getRandomValues(a);
      for (i = 0; i < a.length; i++) { s += (a[i] < 16 ? '0' : '') + a[i].toString(16); }
    } else {
      for (i = 0; i < 4; i++) { s += Math.floor(Math.random() * 4294967296).toString(16); }
    }
    return s + '-' + new Date().getTime().toString(36);
  };

  function request(method, url, body, headers, done) {
    var x = new XMLHttpRequest(), finished = false, h;
    function end(status, text) { if (!finished) { finished = true; done(status, text); } }
    x.open(method, url, true);
    x.timeout = 20000;
    for (h in headers) { if (headers.hasOwnProperty(h)) { x.setRequestHeader(h, headers[h]); } }
    x.onload = function () { end(x.status, x.responseText); };
    x.onerror = function () { end(0, ''); };
    x.ontimeout = function () { end(0, ''); };
    x.onabort = function () { end(0, ''); };
    x.send(body);
  }

  /* POST/GET JSON; done(status, data). status 0 = no answer (offline, timeout). */
  WL.send = function (method, url, body, key, done) {
    var headers = { 'Accept': 'application/json' };
    if (body !== undefined && body !== null) { headers['Content-Type'] = 'application/json'; }
    if (key) { headers['Idempotency-Key'] = key; }
    request(method, url, body === undefined || body === null ? null : JSON.stringify(body), headers, function (st, text) {
      var data = null;
      try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
      done(st, data);
    });
  };

  /* GET an HTML fragment (rendered and escaped by the server); done(status, html). */
  WL.fragment = function (url, done) { request('GET', url, null, { 'Accept': 'text/html' }, done); };

  var CODES = {
    'auth.invalid_token': '登录已过期，请重新登录',
    'auth.unauthenticated': '请先登录',
    'auth.csrf': '请刷新页面后重试',
    'auth.forbidden': '您的账号无权进行此操作',
    'manifest.wrong_party': '这一步应由联单的另一方签字',
    'manifest.label_not_on_manifest': '有标签不在本联单上，不得装车',
    'manifest.label_not_scanned': '还有标签没有扫描',
    'manifest.invalid_transition': '联单状态已变化，请刷新页面',
    'manifest.concurrent_change': '联单刚被他人修改，请刷新页面',
    'idempotency.in_progress': '上一次提交仍在处理中',
    'idempotency.key_reused': '内容已修改，请重新提交',
    'batch.insufficient_mass': '重量超过可用量',
    'batch.stored_elsewhere': '该批次有部分存放在其他设施',
    'weighing.tare_exceeds_gross': '皮重大于毛重',
    'weighing.net_not_positive': '净重必须大于 0',
    'weighing.too_heavy': '单批净重超过上限，请分批称重',
    'time.in_future': '时间晚于现在，请检查电脑时钟',
    'request.invalid': '输入有误',
    'alert.forbidden': '这一步应由其他层级或单位办理',
    'alert.invalid_transition': '告警状态已变化，请刷新页面',
    'alert.concurrent_change': '告警刚被他人处理，请刷新页面',
    'alert.no_enforcement_endpoint': '尚未配置执法移送接口',
    'pickup_order.invalid_transition': '订单状态已变化，请刷新页面',
    'pickup_order.concurrent_change': '订单刚被他人修改，请刷新页面',
    'pickup_order.taken': '订单已被其他收集单位接走',
    'pickup_order.wrong_party': '这一步应由订单的另一方办理',
    'pickup_order.confirmation_failed': '产废单位的用户名或密码不对',
    'pickup_order.confirm_locked': '错误次数过多，请产废单位用自己的账号确认',
    'pickup_order.collector_licence': '收集单位的许可证不覆盖该废物',
    'consent.missing': '产废单位尚未授权',
    'consent.revoked': '产废单位已撤回授权',
    'zero_report.day_has_records': '当天已有台账记录，无需零报告',
    'inbox.needs_action': '办理后自动消除，无需标记已读'
  };

  WL.errorText = function (status, data) {
    if (!status) { return '网络中断，未能连接服务器'; }
    var e = data && data.error;
    if (!e) { return '服务器错误（' + status + '），请稍后重试'; }
    var zh = CODES[e.code], field = e.details && e.details.field;
    return (zh ? zh + '：' : '') + e.message + (field ? '（' + field + '）' : '');
  };

  WL.retryable = function (status, data) {
    var code = data && data.error && data.error.code;
    return !status || status >= 500 || status === 408 || status === 429 || code === 'idempotency.in_progress';
  };

  WL.msg = function (el, text, kind) {
    if (!el) { return; }
    el.textContent = text || '';
    el.className = 'msg' + (kind ? ' ' + kind : '');
  };

  /* 164.500 → 164.5 */
  WL.kg = function (v) {
    var s = String(v === null || v === undefined ? '' : v);
    return s.indexOf('.') >= 0 ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
  };

  WL.parseLabel = function (raw) {
    var v = (raw || '').replace(/^\s+|\s+$/g, ''), i = v.indexOf('/s/');
    if (i >= 0) { v = v.slice(i + 3); }
    v = v.split(/[?#]/)[0];
    try { v = decodeURIComponent(v); } catch (e) { /* keep as typed */ }
    return v.replace(/\s+/g, '').toUpperCase();
  };

  function hiddenUp(el, stop) {
    for (; el && el !== stop; el = el.parentNode) { if (el.hidden) { return true; } }
    return false;
  }

  /* The JSON body of a form: named fields that are shown; data-type int/float converts; data-copy takes the
     value of another element (the station's operator); empty fields are left out. */
  WL.formData = function (form) {
    var out = {}, els = form.elements, i, el, v, t, src;
    for (i = 0; i < els.length; i++) {
      el = els[i];
      if (!el.name || el.disabled || hiddenUp(el, form)) { continue; }
      if (el.type === 'checkbox') { if (el.checked) { out[el.name] = true; } continue; }
      v = el.value;
      src = el.getAttribute('data-copy');
      if (src && document.getElementById(src)) { v = document.getElementById(src).value; }
      v = (v || '').replace(/^\s+|\s+$/g, '');
      if (v === '') { continue; }
      t = el.getAttribute('data-type');
      if (t === 'int') { v = parseInt(v, 10); } else if (t === 'float') { v = parseFloat(v); }
      out[el.name] = v;
    }
    return out;
  };

  WL.fire = function (el, name, detail) {
    var ev = document.createEvent('CustomEvent');
    ev.initCustomEvent(name, true, true, detail);
    el.dispatchEvent(ev);
  };

  /* Forms whose JSON body is not flat name: value pairs (lists of lines, attachments) name a builder:
     <form class="action-form" data-build="rectify">; WL.builders.rectify(form) returns the body, or throws an
     Error whose message says what to fix (shown under the form, nothing sent). */
  WL.builders = {};

  /* ---- action forms: one JSON POST per key; the same unchanged form retried keeps its key ---------------- */
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form.getAttribute || !form.getAttribute('data-api') || form.className.indexOf('action-form') < 0) { return; }
    e.preventDefault();
    var msg = form.querySelector('.msg'), btn = form.querySelector('[type=submit]'), body, fp;
    if (!msg) { msg = document.createElement('p'); msg.className = 'msg'; msg.setAttribute('role', 'status'); form.appendChild(msg); }
    var build = WL.builders[form.getAttribute('data-build') || ''];
    try { body = build ? build(form) : WL.formData(form); } catch (err) { WL.msg(msg, err.message, 'bad'); return; }
    fp = JSON.stringify(body);
    if (!form._wl || form._wl.fp !== fp) { form._wl = { key: WL.key(), fp: fp }; }
    if (btn) { btn.disabled = true; }
    WL.msg(msg, '正在提交…', 'wait');
    WL.send('POST', form.getAttribute('data-api'), body, form._wl.key, function (st, data) {
      if (btn) { btn.disabled = false; }
      if (st >= 200 && st < 300) {
        form._wl = null;
        WL.msg(msg, (form.getAttribute('data-label') || '') + ' 已完成', 'ok');
        WL.fire(form, 'wl:done', data);
        if (form.getAttribute('data-done') === 'reload') { location.reload(); }
      } else if (WL.retryable(st, data)) {
        WL.msg(msg, WL.errorText(st, data) + '。再按一次提交重试（不会重复记录）。', 'wait');
      } else {
        form._wl = null;
        WL.msg(msg, WL.errorText(st, data), 'bad');
      }
    });
  });

  /* ---- the outbox ------------------------------------------------------------------------------------ */
  var OUT = 'outbox', FAILED = 'outbox-failed', busy = false, timer = null;

  function items() { return WL.store.get(OUT, []); }
  function save(list) { WL.store.set(OUT, list); }

  WL.outbox = {
    items: items,
    has: function (page, url) {
      var list = items(), i;
      for (i = 0; i < list.length; i++) { if (list[i].page === page && list[i].url === url) { return true; } }
      return false;
    },
    /* item: {url, body, label, page, clear: [store keys to delete once sent]} */
    add: function (item) {
      var list = items();
      item.key = item.key || WL.key();
      item.at = new Date().getTime();
      list.push(item);
      save(list);
      WL.outbox.render();
      WL.outbox.flush();
    },
    flush: function () {
      if (busy) { return; }
      var list = items();
      if (!list.length) { WL.outbox.render(); return; }
      var item = list[0];
      busy = true;
      WL.outbox.render('sending');
      WL.send('POST', item.url, item.body, item.key, function (st, data) {
        busy = false;
        if (st >= 200 && st < 300) {
          done(item, null);
        } else if (st === 401) {
          WL.outbox.render('login');
          return;
        } else if (WL.retryable(st, data)) {
          netDown(!st);
          WL.outbox.render('waiting');
          schedule();
          return;
        } else {
          done(item, WL.errorText(st, data));
        }
      });
    },
    render: function (state) {
      var box = document.getElementById('outbox');
      if (!box) { return; }
      var list = items(), failed = WL.store.get(FAILED, []), html = [], i;
      box.innerHTML = '';
      if (!list.length && !failed.length) { box.hidden = true; return; }
      box.hidden = false;
      if (list.length) {
        var head = document.createElement('p');
        head.id = 'outbox-state';
        head.textContent = list.length + ' 项等待发送' + (state === 'sending' ? '，正在发送…' :
          state === 'login' ? '：登录已过期，请重新登录后自动发送。' : '：网络恢复后自动发送（不会重复记录）。');
        box.appendChild(head);
        var ul = document.createElement('ul');
        for (i = 0; i < list.length; i++) {
          var li = document.createElement('li');
          li.textContent = list[i].label;
          ul.appendChild(li);
        }
        box.appendChild(ul);
        if (state === 'login') {
          var a = document.createElement('a');
          a.href = '/login?next=' + encodeURIComponent(location.pathname) + '&expired=1';
          a.textContent = '重新登录';
          a.className = 'btn';
          box.appendChild(a);
        } else {
          var b = document.createElement('button');
          b.type = 'button'; b.className = 'btn small'; b.textContent = '立即重试';
          b.onclick = function () { WL.outbox.flush(); };
          box.appendChild(b);
        }
      }
      for (i = 0; i < failed.length; i++) {
        if (failed[i].page !== location.pathname) { continue; }
        var p = document.createElement('p');
        p.className = 'msg bad';
        p.setAttribute('role', 'alert');
        p.textContent = failed[i].label + ' 未被接受：' + failed[i].message;
        box.appendChild(p);
        html.push(i);
      }
      if (html.length) {
        var ok = document.createElement('button');
        ok.type = 'button'; ok.className = 'btn small secondary'; ok.textContent = '知道了';
        ok.onclick = function () { WL.store.del(FAILED); WL.outbox.render(); };
        box.appendChild(ok);
      }
      if (!list.length && !html.length) { box.hidden = true; }
    }
  };

  function done(item, error) {
    var list = items(), i, rest = [];
    for (i = 0; i < list.length; i++) { if (list[i].key !== item.key) { rest.push(list[i]); } }
    save(rest);
    netDown(false);
    if (error) {
      var failed = WL.store.get(FAILED, []);
      failed.push({ label: item.label, message: error, page: item.page });
      WL.store.set(FAILED, failed);
    } else if (item.clear) {
      for (i = 0; i < item.clear.length; i++) { WL.store.del(item.clear[i]); }
    }
    WL.outbox.render();
    if (item.page === location.pathname) {
      location.reload();
      return;
    }
    WL.outbox.flush();
  }

  function schedule() {
    if (timer) { return; }
    timer = setTimeout(function () { timer = null; WL.outbox.flush(); }, 5000);
  }

  function netDown(down) {
    var el = document.getElementById('net');
    if (el) { el.hidden = !down; }
  }

  window.addEventListener('online', function () { netDown(false); WL.outbox.flush(); });
  window.addEventListener('offline', function () { netDown(true); });
  if (navigator.onLine === false) { netDown(true); }
  setInterval(function () { if (items().length) { WL.outbox.flush(); } }, 10000);
  WL.outbox.render();
  WL.outbox.flush();

  /* ---- a label scanned with the phone's camera during pickup: tick it off and go back to the manifest -- */
  var tick = document.querySelector('[data-pickup-tick]');
  if (tick) {
    var number = tick.getAttribute('data-pickup-tick'), did = tick.getAttribute('data-digital-id');
    var list = WL.store.get('scan:' + number, []);
    if (list.indexOf(did) < 0) { list.push(did); WL.store.set('scan:' + number, list); }
    setTimeout(function () { location.replace('/m/' + number); }, 1200);
  }
})();
