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
// A case with `check_clear: true` also checks that the verdict clears itself (its 20 s
// timer run at 1.5 s) and that the page stored nothing but the latest time seen.
// A case with `http: true` opens the page from http://localhost instead of file://.
//
// Prints one JSON line per case and a summary; exits 1 on any failure.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const { pathToFileURL } = require('url');
const puppeteer = require('puppeteer-core');

const manifest = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const fileUrl = pathToFileURL(manifest.page).href;

// Serves the page alone on http://localhost (a case with `http: true`), as a phone
// might open it from a local server.
function serve() {
  const html = fs.readFileSync(manifest.page);
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

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
  const server = c.http ? await serve() : null;
  const pageUrl = server ? `http://localhost:${server.address().port}/kiem-tra.html` : fileUrl;
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
    if (c.check_clear) {
      // The page clears its verdict after 20 s: run that timer at 1.5 s.
      await page.evaluateOnNewDocument(() => {
        const real = window.setTimeout.bind(window);
        window.setTimeout = (f, ms, ...rest) => real(f, ms === 20000 ? 1500 : ms, ...rest);
      });
    }
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
    if (c.check_clear) {
      const cleared = await page
        .waitForFunction(() => !document.body.dataset.verdict && document.getElementById('verdict').hidden &&
          document.getElementById('holder-name').textContent === '' && document.getElementById('verdict-reason').textContent === '',
        { timeout: 5000 })
        .then(() => true, () => false);
      if (!cleared) result.problems.push('the verdict did not clear');
      const stored = await page.evaluate(() => Object.keys(localStorage));
      if (JSON.stringify(stored) !== '["qrca-last-seen"]') result.problems.push('stored: ' + JSON.stringify(stored));
    }
    for (const [k, want] of Object.entries(c.expect)) {
      if (result[k] !== want) result.problems.push(`${k} is ${JSON.stringify(result[k])}, expected ${JSON.stringify(want)}`);
    }
    if (vectors) {
      result.vectors = await page.evaluate(async (file) => {
        const V = globalThis.qrcaVerify;
        const vendor = globalThis.qrcaVendor;
        const lists = { keys: file.keys, revoked: file.revoked, revoked_keys: file.revoked_keys || [], max_valid_days: file.max_valid_days };
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
    if (server) server.close();
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
    await page.goto(fileUrl, { waitUntil: 'load' });
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

// The shared vectors through the scan path: each vector's payload printed on a permit
// PDF, rendered, and uploaded through the photo input of one page whose clock is set
// to the vectors' day; the page must give each the code (and, for a malformed payload,
// the field) that qrca gives.
async function scanVectors(m) {
  const browser = await puppeteer.launch({
    executablePath: manifest.chromium,
    headless: true,
    args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--use-file-for-fake-video-capture=' + m.camera, '--disable-gpu'],
  });
  const result = { vectors: m.images.length, agree: 0, problems: [] };
  try {
    const page = await browser.newPage();
    await page.evaluateOnNewDocument((at) => {
      const realNow = Date.now.bind(Date);
      const offset = at - realNow();
      Date.now = () => realNow() + offset;
    }, m.clock_ms);
    await page.goto(fileUrl, { waitUntil: 'load' });
    await page.waitForFunction(() => document.body.dataset.state !== 'loading', { timeout: 10000 });
    for (const v of m.images) {
      await page.evaluate(() => {
        delete document.body.dataset.photo;
        document.getElementById('verdict').click();
      });
      await (await page.$('#photo')).uploadFile(v.path);
      await page.waitForFunction(() => document.body.dataset.photo, { timeout: 20000 });
      const ds = await page.evaluate(() => Object.assign({}, document.body.dataset));
      const code = ds.reason;
      const field = ds.field === '' ? 0 : Number(ds.field);
      if (ds.photo === 'found' && code === v.code && (v.code !== 'malformed' || field === v.field)) result.agree++;
      else result.problems.push(`${v.name}: page ${ds.photo} ${code} ${ds.field}, qrca ${v.code} ${v.field}`);
    }
  } finally {
    await browser.close();
  }
  return result;
}

(async () => {
  if (manifest.scan_vectors) {
    const r = await scanVectors(manifest.scan_vectors);
    console.log(JSON.stringify(r));
    process.exit(r.problems.length === 0 ? 0 : 1);
  }
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
