// The checkpoint page's screen: camera, photo and paste in; the verdict out.
//
// The verdict itself is verify.js's (the port of payload.rs and trust.rs); this file
// only finds a QR code, decides how far the embedded lists may be trusted today (their
// age, the phone's clock), and shows the answer. Scanned text reaches the screen through
// textContent only. The one thing stored is the latest time the page has seen
// (localStorage "qrca-last-seen"), so a clock set back is noticed.
//
// For the tests, <body> carries the state: data-verdict (valid, stale, invalid,
// refused, or empty while scanning), data-reason (verify.js's code, or the data/clock
// reason), data-field (for a malformed payload), data-permit, data-engine (webcrypto or
// noble), data-decoder (barcode-detector or jsqr), data-state, and data-verdict-ms (from
// the frame the code was found in to the verdict on screen), data-photo (found, none or
// unreadable, after a photo). `#noble` in the address
// forces the embedded Ed25519.
(function () {
  'use strict';
  var V = globalThis.qrcaVerify;
  var vendor = globalThis.qrcaVendor;
  var data = JSON.parse(document.getElementById('qrca-data').textContent);
  // The revocations travel compact, [permit, at, index into data.reasons] (they are most
  // of a city's page); verify.js reads the revocation list's objects.
  data.revoked = data.revoked.map(function (r) {
    return { permit: r[0], at: r[1], reason: data.reasons[r[2]] };
  });
  var body = document.body;
  var LAST_SEEN = 'qrca-last-seen';
  var CLEAR_AFTER_MS = 20000;
  var generatedMs = Date.parse(data.generated_at);
  var $ = function (id) { return document.getElementById(id); };
  var engine = 'noble';
  var webKeys = {};
  var clearTimer = null;
  var shownPayload = null;
  var busy = false;

  function now() {
    return Date.now();
  }

  function lastSeen() {
    try {
      var v = Number(localStorage.getItem(LAST_SEEN));
      return v > 0 ? v : null;
    } catch (_) {
      return null;
    }
  }

  function remember(t) {
    try {
      var seen = lastSeen();
      if (seen === null || t > seen) localStorage.setItem(LAST_SEEN, String(t));
    } catch (_) { /* private mode: nothing kept */ }
  }

  function pad(n) {
    return String(n).padStart(2, '0');
  }

  // 2021-09-08 → 08/09/2021, as printed on the permit.
  function dmy(day) {
    return day ? day.slice(8, 10) + '/' + day.slice(5, 7) + '/' + day.slice(0, 4) : '';
  }

  // A moment as Hà Nội time, dd/mm/yyyy hh:mm.
  function vnTime(ms) {
    var d = new Date(ms + 7 * 3600 * 1000);
    return pad(d.getUTCDate()) + '/' + pad(d.getUTCMonth() + 1) + '/' + d.getUTCFullYear() + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
  }

  function wardOf(kid) {
    for (var i = 0; i < data.keys.length; i++) {
      if (data.keys[i].kid === kid) return data.keys[i];
    }
    return null;
  }

  // --- Ed25519: WebCrypto where it works, else the embedded @noble/ed25519 -------------

  async function webcryptoWorks() {
    if (location.hash === '#noble') return false;
    if (!globalThis.crypto || !crypto.subtle || !globalThis.isSecureContext) return false;
    try {
      // RFC 8032's test 1: an empty message.
      var pk = V.base64url('11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo');
      var sig = V.base64url('5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc-bRr0lv18FlbviRlUUFDjnoQCw');
      var key = await crypto.subtle.importKey('raw', pk, { name: 'Ed25519' }, false, ['verify']);
      return await crypto.subtle.verify({ name: 'Ed25519' }, key, sig, new Uint8Array(0));
    } catch (_) {
      return false;
    }
  }

  async function verify(signature, message, publicKey) {
    // Refused whichever implementation verifies: ed25519-dalek's verify_strict does.
    if (vendor.weakPoint(publicKey) || vendor.weakPoint(signature.subarray(0, 32))) return false;
    if (engine !== 'webcrypto') return vendor.verifyStrict(signature, message, publicKey);
    try {
      var id = String.fromCharCode.apply(null, publicKey);
      if (!webKeys[id]) {
        webKeys[id] = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
      }
      return await crypto.subtle.verify({ name: 'Ed25519' }, webKeys[id], signature, message);
    } catch (_) {
      return false;
    }
  }

  // --- The verdict on screen ----------------------------------------------------------

  var KIND = { T: 'Giấy đi đường (tổ chức)', C: 'Giấy đi đường (cá nhân)', H: 'Thẻ đi chợ' };

  function reasonText(r) {
    var d = r.detail || {};
    switch (r.code) {
      case 'malformed': return 'Mã QR không phải giấy đi đường hợp lệ' + (r.field ? ' (mục thứ ' + r.field + ' sai)' : '');
      case 'unknown_kid': return 'Khóa không có trong danh sách (' + d.kid + ')';
      case 'bad_public_key': return 'Khóa trong danh sách bị hỏng (' + d.kid + ')';
      case 'bad_signature': return 'Chữ ký sai: mã đã bị sửa hoặc không do phường ký';
      case 'wrong_ward': return 'Sai phường: khóa của ' + d.kid_ward + ' nhưng giấy ghi ' + r.claims.ward;
      case 'key_revoked': return 'Khóa ký của ' + (wardOf(d.kid) ? wardOf(d.kid).ward_name : 'phường ' + d.kid_ward) +
        ' đã bị thu hồi từ ' + vnTime(Date.parse(d.from)) + ': ' + d.reason +
        '. Mọi giấy ký bằng khóa này đều không còn giá trị; hãy xin phường cấp lại giấy mới';
      case 'key_not_valid_then': return 'Khóa không được dùng cho ngày bắt đầu của giấy này';
      case 'too_long': return 'Thời hạn quá dài: ' + d.days + ' ngày (tối đa ' + d.max_days + ')';
      case 'revoked': return 'Đã thu hồi: lý do ' + d.reason + ' (lúc ' + vnTime(Date.parse(d.at)) + ')';
      case 'not_yet_valid': return 'Chưa đến ngày: có hiệu lực từ ' + dmy(r.claims.valid_from);
      case 'expired': return 'Hết hạn: chỉ có hiệu lực đến ' + dmy(r.claims.valid_until);
      case 'too_old': return 'Dữ liệu quá cũ (tạo lúc ' + vnTime(generatedMs) + '): cần tải trang kiểm tra mới';
      case 'clock_before_generation': return 'Đồng hồ điện thoại sai: sớm hơn lúc tạo dữ liệu (' + vnTime(generatedMs) + ')';
      case 'clock_set_back': return 'Đồng hồ điện thoại đã bị chỉnh lùi: hãy chỉnh lại giờ';
      case 'not_utf8': return 'Mã QR không phải giấy đi đường (không đọc được chữ)';
      default: return r.code;
    }
  }

  function field(list, label, value) {
    if (value === null || value === undefined || value === '') return;
    var dt = document.createElement('dt');
    dt.textContent = label;
    var dd = document.createElement('dd');
    dd.textContent = String(value);
    list.appendChild(dt);
    list.appendChild(dd);
  }

  function show(verdict, reason, result, started) {
    body.dataset.verdict = verdict;
    body.dataset.reason = reason;
    body.dataset.field = result && result.field !== undefined ? String(result.field) : '';
    body.dataset.permit = result && result.claims ? result.claims.id : '';
    var titles = { valid: 'HỢP LỆ', stale: 'HỢP LỆ – DỮ LIỆU CŨ', invalid: 'KHÔNG HỢP LỆ', refused: 'KHÔNG KIỂM TRA ĐƯỢC' };
    $('verdict-title').textContent = titles[verdict];
    var text = '';
    if (verdict === 'invalid' || verdict === 'refused') text = reasonText(result || { code: reason });
    if (verdict === 'stale') text = 'Dữ liệu cũ (tạo lúc ' + vnTime(generatedMs) + '): chữ ký đúng, nhưng có thể đã bị thu hồi sau đó';
    $('verdict-reason').textContent = text;
    var holder = $('holder');
    var list = $('holder-fields');
    list.textContent = '';
    if ((verdict === 'valid' || verdict === 'stale') && result && result.claims) {
      var c = result.claims;
      var key = wardOf(c.kid);
      $('holder-name').textContent = c.name;
      field(list, 'Năm sinh', c.birth_year);
      field(list, 'Số CCCD/CMND', c.masked_id);
      field(list, 'Loại', KIND[c.kind]);
      field(list, 'Hiệu lực', dmy(c.valid_from) + ' – ' + dmy(c.valid_until));
      field(list, c.kind === 'H' ? 'Địa chỉ' : 'Đơn vị', c.organisation);
      field(list, 'Lộ trình', c.route);
      field(list, 'Phương tiện', c.vehicle);
      field(list, 'Chợ', c.market);
      field(list, 'Ngày đi chợ', c.days);
      field(list, 'Nơi cấp', key ? key.ward_name + ', ' + key.district : c.ward);
      field(list, 'Số giấy', c.id);
      holder.hidden = false;
    } else {
      holder.hidden = true;
    }
    $('verdict').hidden = false;
    if (started !== undefined) body.dataset.verdictMs = String(Math.round(performance.now() - started));
    clearTimeout(clearTimer);
    clearTimer = setTimeout(clear, CLEAR_AFTER_MS);
  }

  function clear() {
    clearTimeout(clearTimer);
    $('verdict').hidden = true;
    $('verdict-title').textContent = '';
    $('verdict-reason').textContent = '';
    $('holder-name').textContent = '';
    $('holder-fields').textContent = '';
    body.dataset.verdict = '';
    body.dataset.reason = '';
    body.dataset.field = '';
    body.dataset.permit = '';
    // The same code still in view is not judged again until it has left the frame.
    setTimeout(function () { shownPayload = null; }, 1500);
  }

  // The age of the lists and the phone's clock come first: with either wrong, no permit
  // can be vouched for.
  async function judge(payload, started) {
    var t = now();
    var age = V.dataAge(t, generatedMs, lastSeen(), data.fresh_hours, data.stale_days);
    if (age !== 'clock_set_back' && age !== 'clock_before_generation') remember(t);
    if (age !== 'fresh' && age !== 'stale') {
      show('refused', age, null, started);
      return;
    }
    var result = await V.check(payload, data, V.vietnamDay(t), verify);
    if (!result.valid) show('invalid', result.code, result, started);
    else show(age === 'fresh' ? 'valid' : 'stale', 'valid', result, started);
  }

  async function found(payload, started) {
    if (busy || payload === shownPayload) return;
    busy = true;
    shownPayload = payload;
    try {
      await judge(payload, started);
    } finally {
      busy = false;
    }
  }

  function fromBytes(bytes, started) {
    var text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
    } catch (_) {
      show('invalid', 'not_utf8', { code: 'not_utf8' }, started);
      return;
    }
    return found(text, started);
  }

  // --- Finding the QR code ------------------------------------------------------------

  var detector = null;
  var canvas = document.createElement('canvas');
  var ctx = canvas.getContext('2d', { willReadFrequently: true });

  async function makeDetector() {
    if (!('BarcodeDetector' in globalThis)) return null;
    try {
      var formats = await BarcodeDetector.getSupportedFormats();
      if (formats.indexOf('qr_code') < 0) return null;
      return new BarcodeDetector({ formats: ['qr_code'] });
    } catch (_) {
      return null;
    }
  }

  // Sharpens an image in place (unsharp mask: each pixel pushed away from the mean of
  // the 7×7 square around it, `amount` times the difference) and makes it grey. A
  // soft photo's modules then have edges jsQR's binarizer can find.
  function sharpen(image, amount) {
    var w = image.width;
    var h = image.height;
    var d = image.data;
    var grey = new Float32Array(w * h);
    for (var i = 0; i < w * h; i++) grey[i] = 0.2126 * d[4 * i] + 0.7152 * d[4 * i + 1] + 0.0722 * d[4 * i + 2];
    var R = 3;
    var rows = new Float32Array(w * h);
    for (var y = 0; y < h; y++) {
      var sum = 0;
      for (var x = -R; x <= R; x++) sum += grey[y * w + Math.min(w - 1, Math.max(0, x))];
      for (x = 0; x < w; x++) {
        rows[y * w + x] = sum;
        sum += grey[y * w + Math.min(w - 1, x + R + 1)] - grey[y * w + Math.max(0, x - R)];
      }
    }
    var area = (2 * R + 1) * (2 * R + 1);
    for (x = 0; x < w; x++) {
      var col = 0;
      for (y = -R; y <= R; y++) col += rows[Math.min(h - 1, Math.max(0, y)) * w + x];
      for (y = 0; y < h; y++) {
        var p = y * w + x;
        var v = grey[p] + amount * (grey[p] - col / area);
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        d[4 * p] = d[4 * p + 1] = d[4 * p + 2] = v;
        col += rows[Math.min(h - 1, y + R + 1) * w + x] - rows[Math.max(0, y - R) * w + x];
      }
    }
  }

  // The ways jsQR is tried on one image, in order: at the image's size (capped so a
  // phone's 4K photo stays quick); enlarged up to 2000 pixels and sharpened, which reads
  // small, soft or distant codes (modules of 2–3 blurred pixels); and at half size, which
  // often reads a large blurred print. A camera frame gets the first, and the second
  // every other frame, so the loop stays quick with nothing in view.
  function attempts(width, height, heavy) {
    var longest = Math.max(width, height);
    var base = Math.min(1, 1280 / longest);
    var list = [{ scale: base, sharpen: false }];
    if (heavy) list.push({ scale: Math.max(base, Math.min(2, 2000 / longest)), sharpen: true });
    if (heavy === 'all') list.push({ scale: base / 2, sharpen: false });
    return list;
  }

  // Decodes one image (a video frame, a bitmap) and hands what it finds to `found`.
  async function decodeImage(source, width, height, started, heavy) {
    if (detector) {
      try {
        var codes = await detector.detect(source);
        if (codes.length > 0) {
          await found(codes[0].rawValue, started);
          return true;
        }
      } catch (_) { /* fall through to jsQR */ }
    }
    var list = attempts(width, height, heavy);
    for (var i = 0; i < list.length; i++) {
      var w = Math.max(1, Math.round(width * list[i].scale));
      var h = Math.max(1, Math.round(height * list[i].scale));
      canvas.width = w;
      canvas.height = h;
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(source, 0, 0, w, h);
      var image = ctx.getImageData(0, 0, w, h);
      if (list[i].sharpen) sharpen(image, 2);
      var code = vendor.jsQR(image.data, w, h, { inversionAttempts: 'dontInvert' });
      if (code && code.binaryData && code.binaryData.length > 0) {
        await fromBytes(code.binaryData, started);
        return true;
      }
    }
    return false;
  }

  var video = $('video');

  var frames = 0;

  async function scanLoop() {
    if (video.readyState >= 2 && $('verdict').hidden && !busy) {
      var started = performance.now();
      frames++;
      var ok = await decodeImage(video, video.videoWidth, video.videoHeight, started, frames % 2 === 0);
      if (!ok && shownPayload !== null && $('verdict').hidden) shownPayload = null;
    }
    setTimeout(scanLoop, 120);
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      $('status').textContent = 'Trình duyệt không mở được camera: dùng nút chụp ảnh.';
      return;
    }
    try {
      var stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment', width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
      video.srcObject = stream;
      await video.play();
      body.dataset.state = 'scanning';
      $('status').textContent = 'Đưa mã QR vào khung.';
      scanLoop();
    } catch (e) {
      body.dataset.state = 'no-camera';
      $('status').textContent = 'Không mở được camera (' + e.name + '): dùng nút chụp ảnh hoặc dán nội dung.';
    }
  }

  $('photo').addEventListener('change', async function () {
    var file = this.files && this.files[0];
    if (!file) return;
    var started = performance.now();
    shownPayload = null;
    try {
      var bitmap = await createImageBitmap(file);
      var ok = await decodeImage(bitmap, bitmap.width, bitmap.height, started, 'all');
      body.dataset.photo = ok ? 'found' : 'none';
      if (!ok) $('status').textContent = 'Không tìm thấy mã QR trong ảnh: chụp lại gần hơn, đủ sáng.';
    } catch (_) {
      body.dataset.photo = 'unreadable';
      $('status').textContent = 'Không đọc được ảnh.';
    }
    this.value = '';
  });

  $('paste-check').addEventListener('click', function () {
    shownPayload = null;
    // A scanner app ends what it copies with a newline; payload.rs leaves that to the caller.
    found($('paste').value.replace(/[\r\n]+$/, ''), performance.now());
  });

  $('verdict').addEventListener('click', clear);

  async function start() {
    var t = now();
    var wards = {};
    data.keys.forEach(function (k) { wards[k.ward] = true; });
    $('data-info').textContent = 'Dữ liệu tạo lúc ' + vnTime(generatedMs) + ' · mã ' + data.fingerprint + ' · ' +
      Object.keys(wards).length + ' phường/xã · ' + data.revoked.length + ' giấy đã thu hồi' +
      (data.revoked_keys && data.revoked_keys.length ? ' · ' + data.revoked_keys.length + ' khóa đã thu hồi' : '');
    var age = V.dataAge(t, generatedMs, lastSeen(), data.fresh_hours, data.stale_days);
    if (age !== 'fresh') {
      $('data-warning').hidden = false;
      $('data-warning').textContent = age === 'stale' ? 'Dữ liệu cũ: hãy xin trang kiểm tra mới.' : reasonText({ code: age });
    }
    if (age !== 'clock_set_back' && age !== 'clock_before_generation') remember(t);
    engine = (await webcryptoWorks()) ? 'webcrypto' : 'noble';
    body.dataset.engine = engine;
    detector = await makeDetector();
    body.dataset.decoder = detector ? 'barcode-detector' : 'jsqr';
    body.dataset.state = 'ready';
    await startCamera();
  }

  start();
})();
