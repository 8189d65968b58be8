// The checkpoint page's third-party code, bundled by scripts/vendor-checkpoint.sh into
// one IIFE (vendor.min.js) that sets globalThis.qrcaVendor and fetches nothing.
//
// - jsQR: the QR decoder where the browser has no BarcodeDetector.
// - @noble/ed25519 (+ SHA-512 from @noble/hashes): Ed25519 where WebCrypto lacks it or
//   the page is not a secure context; verify in strict RFC 8032 mode (zip215: false),
//   plus small-order R refused, as ed25519-dalek's verify_strict does.
import jsQR from 'jsqr';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';

ed.hashes.sha512 = sha512;

// Whether a 32-byte encoding is a point of small order (or no point at all): such keys
// and such R are refused before any verification, whichever implementation verifies.
function weakPoint(bytes) {
  try {
    return ed.Point.fromBytes(bytes, false).isSmallOrder();
  } catch (_) {
    return true;
  }
}

// Whether a 32-byte encoding decodes to a curve point at all (a trust list's key that does
// not is reported as a bad key, not as a bad signature).
function isPoint(bytes) {
  try {
    ed.Point.fromBytes(bytes, true);
    return true;
  } catch (_) {
    return false;
  }
}

function verifyStrict(signature, message, publicKey) {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  if (weakPoint(publicKey) || weakPoint(signature.subarray(0, 32))) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch (_) {
    return false;
  }
}

globalThis.qrcaVendor = { jsQR, verifyStrict, weakPoint, isPoint, sha512 };
