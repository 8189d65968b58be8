// The checkpoint page's verdict, in plain JavaScript with no DOM: the port of
// src/permit/payload.rs (`decode`) and src/permit/trust.rs (`check`).
//
// It must agree with the Rust side byte for byte: same field order, same `%XX` rules,
// same checks in the same order, the first failure deciding. tests/checkpoint_page.rs
// has the Rust side write test vectors (every malformation, every verdict) and runs them
// through this file in Node; each result is a `code` (the Rust `Why` variant in
// snake_case) and, for a malformed payload, the 1-based `field` at fault.
//
// Nothing here reads the clock, the network or storage: the caller passes `today` (a
// `YYYY-MM-DD` day in Asia/Ho_Chi_Minh) and a `verify(signature, message, publicKey)`
// function (WebCrypto or the embedded @noble/ed25519). Loaded as a classic script in the
// page (sets globalThis.qrcaVerify) and with require() in Node.
(function (root) {
  'use strict';

  var MAX_PAYLOAD = 400;
  var TAG = 'QRCA1';
  var SIGNATURE_CHARS = 86;
  var MAX_KID = 16;
  // The fields in SPEC §5's one order, and whether each is required.
  var FIELDS = [
    ['k', true], ['i', true], ['t', true], ['n', true], ['b', true], ['d', true],
    ['f', true], ['u', true], ['w', true], ['o', false], ['r', false], ['v', false],
    ['m', false], ['y', false], ['s', true],
  ];
  var S = 14;

  function utf8(text) {
    return new TextEncoder().encode(text);
  }

  function malformed(field, key, reason) {
    return { ok: false, code: 'malformed', field: field, key: key, reason: reason };
  }

  // Unicode's Cc, as Rust's char::is_control.
  function isControl(cp) {
    return cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f);
  }

  function needsEscape(cp) {
    return cp === 0x25 || cp === 0x7c || isControl(cp);
  }

  function escapeValue(value) {
    var out = '';
    for (var ch of value) {
      var cp = ch.codePointAt(0);
      if (needsEscape(cp)) {
        utf8(ch).forEach(function (b) {
          out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
        });
      } else {
        out += ch;
      }
    }
    return out;
  }

  function isHex(b) {
    return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46);
  }

  // Undoes `%XX`, insisting on the one form the signer writes (payload.rs `unescape`).
  function unescape(text) {
    var raw = utf8(text);
    var bytes = [];
    for (var i = 0; i < raw.length; i++) {
      if (raw[i] === 0x25) {
        if (!(i + 2 < raw.length && isHex(raw[i + 1]) && isHex(raw[i + 2]))) {
          return { error: 'bad escape: % must be followed by two upper-case hex digits' };
        }
        bytes.push(parseInt(String.fromCharCode(raw[i + 1], raw[i + 2]), 16));
        i += 2;
      } else {
        bytes.push(raw[i]);
      }
    }
    var value;
    try {
      value = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(new Uint8Array(bytes));
    } catch (_) {
      return { error: 'its %XX escapes do not decode to valid UTF-8' };
    }
    for (var ch of text) {
      if (isControl(ch.codePointAt(0))) {
        return { error: 'raw control character; it must be written %XX' };
      }
    }
    if (escapeValue(value) !== text) {
      return { error: 'a character that is written as itself is escaped as %XX' };
    }
    return { value: value };
  }

  function isValidKid(kid) {
    return kid.length > 0 && kid.length <= MAX_KID && /^[A-Za-z0-9-]+$/.test(kid);
  }

  function parseYear(text) {
    if (text === '') return { value: null };
    if (!/^[0-9]+$/.test(text)) return { error: 'birth year is not a number' };
    var year = Number(text);
    if (text.length === 4 && year >= 1000) return { value: year };
    return { error: 'birth year is not a four-digit year' };
  }

  function daysInMonth(year, month) {
    if (month === 2) {
      var leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
      return leap ? 29 : 28;
    }
    return [4, 6, 9, 11].indexOf(month) >= 0 ? 30 : 31;
  }

  function parseDate(text) {
    if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(text)) {
      return { error: 'not a date written YYYY-MM-DD' };
    }
    var y = Number(text.slice(0, 4));
    var m = Number(text.slice(5, 7));
    var d = Number(text.slice(8, 10));
    if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) {
      return { error: 'not a day of the calendar' };
    }
    return { value: text };
  }

  var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

  // Strict base64url without padding, as data_encoding's BASE64URL_NOPAD: the unused
  // bits of the last character must be zero.
  function base64url(text) {
    if (text.length % 4 === 1) return null;
    var bits = 0;
    var acc = 0;
    var out = [];
    for (var i = 0; i < text.length; i++) {
      var v = B64.indexOf(text[i]);
      if (v < 0) return null;
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push((acc >> bits) & 0xff);
      }
      acc &= (1 << bits) - 1;
    }
    if (acc !== 0) return null;
    return new Uint8Array(out);
  }

  // payload.rs `decode`: the strict reader. Returns { ok: true, claims, message,
  // signature } or { ok: false, code: 'malformed', field, key, reason }.
  function decode(payload) {
    if (utf8(payload).length >= MAX_PAYLOAD) {
      return malformed(0, '', 'the payload is ' + MAX_PAYLOAD + ' bytes or more');
    }
    var parts = payload.split('|');
    var tag = parts[0];
    if (tag !== TAG) {
      return malformed(0, '', tag.indexOf('QRCA') === 0 ? 'unsupported version' : 'not a qrca permit');
    }
    var raw = new Array(FIELDS.length).fill(null);
    var next = 0;
    var offset = TAG.length;
    var messageEnd = null;
    var count = 0;
    for (var p = 1; p < parts.length; p++) {
      var part = parts[p];
      var field = p;
      count = field;
      var eq = part.indexOf('=');
      if (eq < 0) return malformed(field, '', 'not key=value');
      var key = part.slice(0, eq);
      var value = part.slice(eq + 1);
      var index = -1;
      for (var f = 0; f < FIELDS.length; f++) {
        if (FIELDS[f][0] === key) index = f;
      }
      if (index < 0) return malformed(field, key, 'unknown key');
      if (raw[S] !== null) return malformed(field, key, 'nothing may follow s=');
      if (raw[index] !== null) return malformed(field, key, 'duplicate');
      if (index < next) return malformed(field, key, 'out of order');
      for (var g = next; g < index; g++) {
        if (FIELDS[g][1]) return malformed(field, key, 'expected ' + FIELDS[g][0] + '= here');
      }
      if (index === S) messageEnd = offset;
      raw[index] = [field, value];
      next = index + 1;
      offset += 1 + part.length;
    }
    for (var h = next; h < FIELDS.length; h++) {
      if (FIELDS[h][1]) {
        return malformed(count + 1, FIELDS[h][0], 'missing: the payload ends before ' + FIELDS[h][0] + '=');
      }
    }
    function fieldValue(i) {
      if (raw[i] === null) return { none: true };
      var u = unescape(raw[i][1]);
      if (u.error) return { bad: malformed(raw[i][0], FIELDS[i][0], u.error) };
      return { field: raw[i][0], value: u.value };
    }
    function nonEmptyNoPipe(v, key, what) {
      if (v.value === '') return malformed(v.field, key, 'the ' + what + ' is empty');
      if (v.value.indexOf('|') >= 0) return malformed(v.field, key, "the " + what + " contains '|'");
      return null;
    }
    var k = fieldValue(0);
    if (k.bad) return k.bad;
    if (!isValidKid(k.value)) return malformed(k.field, 'k', 'key id is not 1 to 16 ASCII letters, digits or -');
    var id = fieldValue(1);
    if (id.bad) return id.bad;
    var e = nonEmptyNoPipe(id, 'i', 'permit id');
    if (e) return e;
    var t = fieldValue(2);
    if (t.bad) return t.bad;
    if (['T', 'C', 'H'].indexOf(t.value) < 0) return malformed(t.field, 't', 'kind is not T, C or H');
    var n = fieldValue(3);
    if (n.bad) return n.bad;
    var b = fieldValue(4);
    if (b.bad) return b.bad;
    var year = parseYear(b.value);
    if (year.error) return malformed(b.field, 'b', year.error);
    var d = fieldValue(5);
    if (d.bad) return d.bad;
    var fr = fieldValue(6);
    if (fr.bad) return fr.bad;
    var from = parseDate(fr.value);
    if (from.error) return malformed(fr.field, 'f', from.error);
    var un = fieldValue(7);
    if (un.bad) return un.bad;
    var until = parseDate(un.value);
    if (until.error) return malformed(un.field, 'u', until.error);
    if (until.value < from.value) return malformed(un.field, 'u', 'valid until is before valid from');
    var w = fieldValue(8);
    if (w.bad) return w.bad;
    e = nonEmptyNoPipe(w, 'w', 'ward code');
    if (e) return e;
    var optional = {};
    for (var o = 9; o < 14; o++) {
      var v = fieldValue(o);
      if (v.bad) return v.bad;
      if (v.none) continue;
      if (v.value === '') return malformed(v.field, FIELDS[o][0], 'empty value; an absent value is left out');
      optional[FIELDS[o][0]] = v.value;
    }
    var sField = raw[S][0];
    var sText = raw[S][1];
    if (utf8(sText).length !== SIGNATURE_CHARS) {
      return malformed(sField, 's', 'the signature is not ' + SIGNATURE_CHARS + ' characters');
    }
    var signature = base64url(sText);
    if (signature === null || signature.length !== 64) {
      return malformed(sField, 's', 'the signature is not base64url without padding');
    }
    var claims = {
      kid: k.value,
      id: id.value,
      kind: t.value,
      name: n.value,
      birth_year: year.value,
      masked_id: d.value,
      valid_from: from.value,
      valid_until: until.value,
      ward: w.value,
      organisation: optional.o || null,
      route: optional.r || null,
      vehicle: optional.v || null,
      market: optional.m || null,
      days: optional.y || null,
    };
    return { ok: true, claims: claims, message: payload.slice(0, messageEnd), signature: signature };
  }

  function dayNumber(day) {
    var y = Number(day.slice(0, 4));
    var m = Number(day.slice(5, 7));
    var d = Number(day.slice(8, 10));
    var date = new Date(0);
    date.setUTCFullYear(y, m - 1, d);
    return Math.round(date.getTime() / 86400000);
  }

  // A key's window bounds a permit's first day only (trust.rs `covers`): a retired key's
  // permits stay good until their own end, which the length cap bounds.
  function covers(key, day) {
    return day >= key.not_before && (key.not_after === null || key.not_after === undefined || day <= key.not_after);
  }

  // trust.rs `check`: the verdict on `payload` on `today`. `lists` is
  // { keys: [...trust list keys], revoked: [...revocation entries],
  //   revoked_keys: [...revoked keys] (may be absent), max_valid_days }.
  // Resolves to { valid, code, field?, claims?, detail }.
  async function check(payload, lists, today, verify) {
    var signed = decode(payload);
    if (!signed.ok) {
      return { valid: false, code: 'malformed', field: signed.field, key: signed.key, detail: signed.reason, claims: null };
    }
    var c = signed.claims;
    function no(code, detail) {
      return { valid: false, code: code, claims: c, detail: detail || {} };
    }
    var trusted = null;
    for (var i = 0; i < lists.keys.length; i++) {
      if (lists.keys[i].kid === c.kid) {
        trusted = lists.keys[i];
        break;
      }
    }
    if (trusted === null) return no('unknown_kid', { kid: c.kid });
    var publicKey = base64url(trusted.public_key);
    if (publicKey === null || publicKey.length !== 32 || !root.qrcaVendor.isPoint(publicKey)) {
      return no('bad_public_key', { kid: trusted.kid });
    }
    var good = await verify(signed.signature, utf8(signed.message), publicKey);
    if (!good) return no('bad_signature');
    if (trusted.ward !== c.ward) return no('wrong_ward', { kid_ward: trusted.ward });
    // A revoked key voids every permit it signed, whatever today: a payload carries no
    // signing time.
    var revokedKeys = lists.revoked_keys || [];
    for (var j = 0; j < revokedKeys.length; j++) {
      if (revokedKeys[j].kid === c.kid) {
        return no('key_revoked', { kid: c.kid, kid_ward: trusted.ward, from: revokedKeys[j].from, reason: revokedKeys[j].reason });
      }
    }
    if (!covers(trusted, c.valid_from)) {
      return no('key_not_valid_then', { not_before: trusted.not_before, not_after: trusted.not_after });
    }
    var days = dayNumber(c.valid_until) - dayNumber(c.valid_from) + 1;
    if (days > lists.max_valid_days) return no('too_long', { days: days, max_days: lists.max_valid_days });
    var revoked = null;
    lists.revoked.forEach(function (r) {
      if (r.permit === c.id && (revoked === null || Date.parse(r.at) < Date.parse(revoked.at))) revoked = r;
    });
    if (revoked !== null) return no('revoked', { at: revoked.at, reason: revoked.reason });
    if (today < c.valid_from) return no('not_yet_valid');
    if (today > c.valid_until) return no('expired');
    return { valid: true, code: 'valid', claims: c, detail: {} };
  }

  // Today's date in Asia/Ho_Chi_Minh (UTC+7 all year since 1975, no summer time),
  // whatever zone the phone is set to.
  function vietnamDay(nowMs) {
    var d = new Date(nowMs + 7 * 3600 * 1000);
    var y = d.getUTCFullYear();
    var m = d.getUTCMonth() + 1;
    var day = d.getUTCDate();
    return String(y).padStart(4, '0') + '-' + String(m).padStart(2, '0') + '-' + String(day).padStart(2, '0');
  }

  // How far the page may trust its embedded lists at `nowMs`: 'fresh' (green allowed),
  // 'stale' (amber: "dữ liệu cũ"), 'too_old' (refuse), 'clock_before_generation' or
  // 'clock_set_back' (refuse: the phone's clock is earlier than the lists were made, or
  // than a time this page has already seen).
  function dataAge(nowMs, generatedMs, lastSeenMs, freshHours, staleDays) {
    if (nowMs < generatedMs) return 'clock_before_generation';
    if (lastSeenMs !== null && lastSeenMs !== undefined && nowMs < lastSeenMs) return 'clock_set_back';
    var age = nowMs - generatedMs;
    if (age <= freshHours * 3600 * 1000) return 'fresh';
    if (age <= staleDays * 86400 * 1000) return 'stale';
    return 'too_old';
  }

  var api = {
    decode: decode,
    check: check,
    vietnamDay: vietnamDay,
    dataAge: dataAge,
    base64url: base64url,
    MAX_PAYLOAD: MAX_PAYLOAD,
  };
  root.qrcaVerify = api;
  if (typeof module === 'object' && module.exports) module.exports = api;
})(typeof globalThis !== 'undefined' ? globalThis : this);
