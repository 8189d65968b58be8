// Runs the verdict vectors that tests/checkpoint_page.rs writes (from permit::trust::check)
// through templates/checkpoint/verify.js in Node, with both Ed25519 engines the page has:
// WebCrypto (Node's crypto.subtle) and the embedded @noble/ed25519 (vendor.min.js).
//
//   node tests/checkpoint/vectors.cjs VECTORS.json
//
// Prints one line per disagreement and exits 1 if there is any.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const root = path.join(__dirname, '..', '..', 'templates', 'checkpoint');
vm.runInThisContext(fs.readFileSync(path.join(root, 'vendor', 'vendor.min.js'), 'utf8'));
const V = require(path.join(root, 'verify.js'));
const vendor = globalThis.qrcaVendor;

const file = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const lists = { keys: file.keys, revoked: file.revoked, revoked_keys: file.revoked_keys || [], max_valid_days: file.max_valid_days };

async function webcrypto(signature, message, publicKey) {
  if (vendor.weakPoint(publicKey) || vendor.weakPoint(signature.subarray(0, 32))) return false;
  try {
    const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message);
  } catch (_) {
    return false;
  }
}

async function noble(signature, message, publicKey) {
  return vendor.verifyStrict(signature, message, publicKey);
}

(async () => {
  let bad = 0;
  for (const [engine, verify] of [['webcrypto', webcrypto], ['noble', noble]]) {
    for (const v of file.vectors) {
      const got = await V.check(v.payload, lists, v.today, verify);
      const same = got.code === v.code && (v.code !== 'malformed' || got.field === v.field);
      if (!same) {
        bad++;
        console.log(`${engine}: ${v.name}: page says ${got.code}${got.code === 'malformed' ? ' field ' + got.field + ' (' + got.detail + ')' : ''}, qrca says ${v.code}${v.code === 'malformed' ? ' field ' + v.field : ''} (${v.why})`);
      }
    }
  }
  console.log(`${file.vectors.length} vectors x 2 engines, ${bad} disagreement(s)`);
  process.exit(bad === 0 ? 0 : 1);
})();
