// Drives the real checkpoint page in headless Chromium with a fake camera, for
// tests/checkpoint_page.rs (which makes the permits, the page and the camera files).
//
//   node tests/checkpoint/browser.cjs MANIFEST.json
//
// The manifest: { chromium, page, screens, vectors?, cases: [{ name, camera (a .y4m
// Chromium loops as the camera), hash?, clock_offset_ms?, last_seen_offset_ms?, photo?,
// expect: { verdict, reason, engine?, decoder? } }] }. Each case gets a fresh browser
// (fresh storage), every request but the page itself is aborted and counted, and a
// screenshot of the verdict is saved as <screens>/<name>.png. With `vectors`, the
// first case also runs every vector through the page's own verify.js with the
// browser's WebCrypto and with the embedded noble.
//
// Prints one JSON line per case and a summary; exits 1 on any failure.
'use strict';
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');
const puppeteer = require('puppeteer-core');

const manifest = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const pageUrl = pathToFileURL(manifest.page).href;

async function runCase(c, vectors) {
  const browser = await puppeteer.launch({
    executablePath: manifest.chromium,
    headless: true,
    args: [
      '--no-sandbox',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--use-file-for-fake-video-capture=' + c.camera,
      '--allow-file-access-from-files',
      '--disable-gpu',
    ],
  });
  const result = { name: c.name, requests: [], problems: [] };
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 412, height: 915, deviceScaleFactor: 1 });
    await page.setRequestInterception(true);
    page.on('request', (r) => {
      const url = r.url();
      if (url === pageUrl || url === pageUrl + (c.hash || '')) {
        r.continue();
      } else {
        result.requests.push(url);
        r.abort();
      }
    });
    page.on('pageerror', (e) => result.problems.push('page error: ' + e.message));
    await page.evaluateOnNewDocument((clock, lastSeen) => {
      if (clock) {
        const realNow = Date.now.bind(Date);
        Date.now = () => realNow() + clock;
      }
      if (lastSeen) localStorage.setItem('qrca-last-seen', String(Date.now() + lastSeen));
    }, c.clock_offset_ms || 0, c.last_seen_offset_ms || 0);
    const t0 = Date.now();
    await page.goto(pageUrl + (c.hash || ''), { waitUntil: 'load' });
    if (c.photo) {
      await page.waitForFunction(() => document.body.dataset.state !== 'loading', { timeout: 10000 });
      const input = await page.$('#photo');
      await input.uploadFile(c.photo);
    }
    await page.waitForFunction(() => document.body.dataset.verdict, { timeout: 20000 }).catch(() => {
      result.problems.push('no verdict within 20 s');
    });
    result.load_to_verdict_ms = Date.now() - t0;
    const ds = await page.evaluate(() => Object.assign({}, document.body.dataset));
    Object.assign(result, {
      verdict: ds.verdict,
      reason: ds.reason,
      field: ds.field,
      permit: ds.permit,
      engine: ds.engine,
      decoder: ds.decoder,
      verdict_ms: Number(ds.verdictMs),
      title: await page.$eval('#verdict-title', (e) => e.textContent),
      text: await page.$eval('#verdict-reason', (e) => e.textContent),
      name_shown: await page.$eval('#holder-name', (e) => e.textContent),
    });
    await page.screenshot({ path: path.join(manifest.screens, c.name + '.png') });
    for (const [k, want] of Object.entries(c.expect)) {
      if (result[k] !== want) result.problems.push(`${k} is ${JSON.stringify(result[k])}, expected ${JSON.stringify(want)}`);
    }
    if (vectors) {
      result.vectors = await page.evaluate(async (file) => {
        const V = globalThis.qrcaVerify;
        const vendor = globalThis.qrcaVendor;
        const lists = { keys: file.keys, revoked: file.revoked, max_valid_days: file.max_valid_days };
        async function web(signature, message, publicKey) {
          if (vendor.weakPoint(publicKey) || vendor.weakPoint(signature.subarray(0, 32))) return false;
          try {
            const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
            return await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message);
          } catch (_) {
            return false;
          }
        }
        const noble = async (s, m, p) => vendor.verifyStrict(s, m, p);
        const bad = [];
        for (const [engine, verify] of [['webcrypto', web], ['noble', noble]]) {
          for (const v of file.vectors) {
            const got = await V.check(v.payload, lists, v.today, verify);
            if (got.code !== v.code || (v.code === 'malformed' && got.field !== v.field)) {
              bad.push(`${engine}: ${v.name}: page ${got.code} ${got.field || ''}, qrca ${v.code} ${v.field || ''}`);
            }
          }
        }
        return { count: file.vectors.length, bad };
      }, JSON.parse(fs.readFileSync(vectors, 'utf8')));
      result.problems.push(...result.vectors.bad);
    }
    if (result.requests.length > 0) result.problems.push('network requests: ' + result.requests.join(', '));
  } finally {
    await browser.close();
  }
  return result;
}

// Decode success over many renders, through the page's photo input: each image is
// uploaded, and counts when the page shows a verdict for the expected permit.
async function measure(m) {
  const browser = await puppeteer.launch({
    executablePath: manifest.chromium,
    headless: true,
    args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--use-file-for-fake-video-capture=' + m.camera, '--disable-gpu'],
  });
  const result = { renders: m.images.length, decoded: 0, failed: [], ms: [] };
  try {
    const page = await browser.newPage();
    await page.goto(pageUrl, { waitUntil: 'load' });
    await page.waitForFunction(() => document.body.dataset.state !== 'loading', { timeout: 10000 });
    for (const image of m.images) {
      await page.evaluate(() => {
        delete document.body.dataset.photo;
        document.getElementById('verdict').click();
      });
      const input = await page.$('#photo');
      const t0 = Date.now();
      await input.uploadFile(image.path);
      await page.waitForFunction(() => document.body.dataset.photo, { timeout: 20000 });
      const ds = await page.evaluate(() => Object.assign({}, document.body.dataset));
      result.ms.push(Date.now() - t0);
      if (ds.photo === 'found' && ds.permit === image.permit) result.decoded++;
      else result.failed.push(path.basename(image.path));
    }
  } finally {
    await browser.close();
  }
  result.ms.sort((a, b) => a - b);
  result.median_ms = result.ms[Math.floor(result.ms.length / 2)];
  delete result.ms;
  return result;
}

(async () => {
  if (manifest.measure) {
    const r = await measure(manifest.measure);
    console.log(JSON.stringify(r));
    process.exit(0);
  }
  let failed = 0;
  for (let i = 0; i < manifest.cases.length; i++) {
    const c = manifest.cases[i];
    let r;
    try {
      r = await runCase(c, i === 0 ? manifest.vectors : null);
    } catch (e) {
      r = { name: c.name, problems: ['the run failed: ' + e.message] };
    }
    if (r.problems.length > 0) failed++;
    console.log(JSON.stringify(r));
  }
  console.log(JSON.stringify({ cases: manifest.cases.length, failed }));
  process.exit(failed === 0 ? 0 : 1);
})();
