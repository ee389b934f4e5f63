// Ferry console: live updates and confirmation dialogs. Everything works without this script
// (links lead to confirmation pages, forms post); with it, actions are confirmed in a dialog
// and posted in the background, and the page's live part is fetched again whenever the
// server says the application changed (server-sent events from a watch).
(function () {
  'use strict';
  var body = document.body;
  var live = document.getElementById('live');
  var flash = document.getElementById('flash');
  var busy = false, again = false;

  function refresh() {
    if (!live || !body.dataset.fragment) { return; }
    if (busy || document.querySelector('dialog[open]')) { again = true; return; }
    busy = true;
    fetch(body.dataset.fragment, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error('HTTP ' + r.status)); })
      .then(function (html) {
        var focused = document.activeElement && document.activeElement.id;
        live.innerHTML = html; // server-rendered with html/template: every value escaped
        bind(live);
        if (focused) { var el = document.getElementById(focused); if (el) { el.focus(); } }
        body.dataset.refreshed = String(Number(body.dataset.refreshed || '0') + 1);
      })
      .catch(function () { again = true; })
      .finally(function () {
        busy = false;
        if (again) { again = false; setTimeout(refresh, 300); }
      });
  }

  function say(text, ok) {
    if (!flash) { return; }
    flash.textContent = text;
    flash.className = ok ? 'done' : 'problem';
  }

  function bind(root) {
    root.querySelectorAll('a[data-dialog]').forEach(function (a) {
      a.addEventListener('click', function (e) {
        var d = document.getElementById(a.dataset.dialog);
        if (!d || typeof d.showModal !== 'function') { return; }
        e.preventDefault();
        d.showModal();
      });
    });
    root.querySelectorAll('dialog [data-close]').forEach(function (b) {
      b.addEventListener('click', function () { b.closest('dialog').close(); });
    });
    root.querySelectorAll('dialog').forEach(function (d) {
      d.addEventListener('close', function () { if (again) { again = false; refresh(); } });
    });
    root.querySelectorAll('form[data-async]').forEach(function (f) {
      f.addEventListener('submit', function (e) {
        e.preventDefault();
        var d = f.closest('dialog');
        fetch(f.action, {
          method: 'POST', credentials: 'same-origin',
          headers: { 'Accept': 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(new FormData(f)).toString()
        }).then(function (r) { return r.json(); })
          .then(function (res) { say(res.message, res.ok); })
          .catch(function (err) { say('The action failed: ' + err.message, false); })
          .finally(function () { if (d) { d.close(); } refresh(); });
      });
    });
  }

  bind(document);
  if (body.dataset.watch && window.EventSource) {
    var es = new EventSource(body.dataset.watch);
    es.addEventListener('change', refresh);
    es.addEventListener('open', function () { body.dataset.live = 'connected'; });
  }
})();
