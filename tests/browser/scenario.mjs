// The jpki web pages in a real browser: headless Chromium (Debian's package) driven by
// playwright-core, against a `jpki serve` that scripts/browser-test prepared (a resident
// with a My Number card and a registered phone, a hotline operator with a password).
//
// The scenario, each step a check:
//   1. the login page shows a code (and its QR code); the CLI phone approves it with
//      `jpki phone login --code`; the page's script moves on to the dashboard by itself;
//   2. the dashboard shows four certificates, all 有効;
//   3. in the operator console, the hotline operator finds the person and suspends the
//      phone certificates;
//   4. the citizen's dashboard shows 一時保留 for them, and the history has the suspension;
//   5. the CSV export downloads (UTF-8 with a BOM, the suspension in it);
//   6. the English toggle switches the page.
// Screenshots of the main pages go to JPKI_SCREENSHOTS (scripts/browser-test chooses it).
//
// Environment: JPKI_URL, JPKI_BIN, JPKI_DATA_DIR, JPKI_PHONE (phone file), JPKI_PHONE_PIN_FILE,
// JPKI_OPERATOR, JPKI_OPERATOR_PASSWORD_FILE, JPKI_SCREENSHOTS, JPKI_CHROMIUM.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set (run scripts/browser-test)`);
  }
  return value;
}

const url = env('JPKI_URL');
const screenshots = env('JPKI_SCREENSHOTS');
const executablePath = process.env.JPKI_CHROMIUM || '/usr/bin/chromium';

let passed = 0;
let failed = 0;
function check(name, condition, detail = '') {
  if (condition) {
    passed += 1;
    console.log(`ok - ${name}`);
  } else {
    failed += 1;
    console.log(`not ok - ${name}${detail ? `: ${detail}` : ''}`);
  }
}

function jpki(args) {
  return execFileSync(env('JPKI_BIN'), args, {
    env: { ...process.env, JPKI_DATA_DIR: env('JPKI_DATA_DIR') },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
}

async function shoot(page, name) {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

async function rowTexts(page, table) {
  return page.locator(`#${table} tbody tr`).allInnerTexts();
}

const profile = mkdtempSync(join(tmpdir(), 'jpki-chromium-'));
mkdirSync(screenshots, { recursive: true });
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  acceptDownloads: true,
  locale: 'ja-JP',
  timezoneId: 'Asia/Tokyo',
  viewport: { width: 1200, height: 900 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
context.setDefaultTimeout(20_000);

try {
  const consoleErrors = [];
  const citizen = context.pages()[0] ?? (await context.newPage());
  citizen.on('console', (message) => {
    if (message.type() === 'error') {
      consoleErrors.push(message.text());
    }
  });

  // 1. Cross-device login, approved by the CLI phone.
  await citizen.goto(`${url}/`);
  check('home page is Japanese first', (await citizen.getAttribute('html', 'lang')) === 'ja');
  await citizen.getByRole('button', { name: 'ログインを始める' }).click();
  await citizen.waitForURL(`${url}/login`);
  const code = (await citizen.locator('#login-code').innerText()).trim();
  check('the login page shows a code', /^[A-Z0-9]{4}-[A-Z0-9]{4}$/.test(code), code);
  const qr = citizen.locator('img.qr');
  check(
    'the QR code is drawn',
    await qr.evaluate((image) => image.complete && image.naturalWidth > 0),
  );
  await shoot(citizen, 'login');
  const approved = jpki([
    'phone', 'login', env('JPKI_PHONE'),
    '--code', code,
    '--phone-auth-pin-file', env('JPKI_PHONE_PIN_FILE'),
  ]);
  check('jpki phone login --code approves', approved.includes('login approved'), approved);
  // The page's script notices the approval and continues without a click.
  await citizen.waitForURL(`${url}/dashboard`);
  check('the browser is logged in', citizen.url() === `${url}/dashboard`);

  // 2. The dashboard's statuses.
  let rows = await rowTexts(citizen, 'certificates');
  check('four certificates', rows.length === 4, JSON.stringify(rows));
  check('all 有効', rows.every((row) => row.includes('有効')), JSON.stringify(rows));
  check(
    'card and phone, signature and authentication',
    rows.filter((row) => row.includes('カード')).length === 2 &&
      rows.filter((row) => row.includes('スマホ')).length === 2 &&
      rows.filter((row) => row.includes('署名用')).length === 2,
    JSON.stringify(rows),
  );
  await shoot(citizen, 'dashboard');

  // 3. The hotline suspends the phone in the operator console.
  const operator = await context.newPage();
  await operator.goto(`${url}/operator`);
  await operator.getByLabel('職員ID').fill(env('JPKI_OPERATOR'));
  await operator
    .getByLabel('パスワード')
    .fill(readFileSync(env('JPKI_OPERATOR_PASSWORD_FILE'), 'utf8').trim());
  await operator.getByRole('button', { name: 'ログイン' }).click();
  await operator.waitForURL(`${url}/operator`);
  await operator.getByLabel('氏名', { exact: true }).fill('公的 太郎');
  await operator.getByLabel('生年月日').fill('1990-01-02');
  await operator.getByRole('button', { name: '検索する' }).nth(1).click();
  await operator.waitForURL(/\/operator\/search/);
  await operator.getByRole('link', { name: /開く/ }).first().click();
  await operator.waitForURL(/\/operator\/residents\/\d+$/);
  await operator.getByLabel('スマホ用電子証明書').check();
  await operator.getByLabel('受付メモ(任意)').fill('紛失の申出(ブラウザ試験)');
  await operator.getByRole('button', { name: '一時保留にする' }).click();
  await operator.waitForURL(/suspended=1/);
  check(
    'the console confirms the suspension',
    (await operator.locator('[role=status]').innerText()).includes('一時保留にしました'),
  );
  const operatorRows = await rowTexts(operator, 'certificates');
  check(
    'the console shows the phone certificates held',
    operatorRows.filter((row) => row.includes('一時保留')).length === 2,
    JSON.stringify(operatorRows),
  );
  await shoot(operator, 'operator');

  // 4. The citizen's pages show it.
  await citizen.reload();
  rows = await rowTexts(citizen, 'certificates');
  const phoneRows = rows.filter((row) => row.includes('スマホ'));
  const cardRows = rows.filter((row) => row.includes('カード'));
  check(
    'the dashboard shows 一時保留 for the phone',
    phoneRows.length === 2 && phoneRows.every((row) => row.includes('一時保留')),
    JSON.stringify(rows),
  );
  check(
    'the card stays 有効',
    cardRows.length === 2 && cardRows.every((row) => row.includes('有効')),
    JSON.stringify(rows),
  );
  await citizen.getByRole('link', { name: '利用履歴' }).first().click();
  await citizen.waitForURL(`${url}/history`);
  const history = await rowTexts(citizen, 'history');
  check(
    'the history has the suspension',
    history.some((row) => row.includes('一時利用停止(一時保留)')),
    JSON.stringify(history.slice(0, 5)),
  );
  check('the history has the login', history.some((row) => row.includes('ログイン')));
  await shoot(citizen, 'history');

  // 5. CSV export.
  const [download] = await Promise.all([
    citizen.waitForEvent('download'),
    citizen.locator('#export-csv').click(),
  ]);
  const csvPath = join(profile, 'history.csv');
  await download.saveAs(csvPath);
  const csv = readFileSync(csvPath);
  check('the CSV downloads with its name', /^jpki-history-\d{8}\.csv$/.test(download.suggestedFilename()));
  check('the CSV starts with a UTF-8 BOM', csv[0] === 0xef && csv[1] === 0xbb && csv[2] === 0xbf);
  const csvText = csv.toString('utf8');
  check('the CSV has the suspension', csvText.includes(',suspended,'), csvText.slice(0, 300));
  check('the CSV has a Japanese header', csvText.includes('日時(日本時間)'));

  // 6. The English toggle.
  await citizen.goto(`${url}/dashboard`);
  await citizen.getByRole('link', { name: 'Switch the language to English' }).click();
  await citizen.waitForURL(`${url}/dashboard`);
  check('the toggle sets <html lang="en">', (await citizen.getAttribute('html', 'lang')) === 'en');
  check(
    'the dashboard is in English',
    (await citizen.locator('h1').innerText()).includes('Your electronic certificates'),
  );
  rows = await rowTexts(citizen, 'certificates');
  check(
    'statuses in English',
    rows.filter((row) => row.includes('Suspended (on hold)')).length === 2,
    JSON.stringify(rows),
  );
  await shoot(citizen, 'dashboard-en');
  await citizen.getByRole('link', { name: '表示言語を日本語に切り替える' }).click();
  check('and back to Japanese', (await citizen.getAttribute('html', 'lang')) === 'ja');

  check('no script errors (the CSP blocked nothing of ours)', consoleErrors.length === 0, consoleErrors.join(' | '));
} catch (error) {
  failed += 1;
  console.log(`not ok - the scenario stopped: ${error.stack || error}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
