/**
 * End-to-end support: real headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core,
 * with Chrome's DevTools virtual authenticator standing in for a security key or a passkey.
 *
 * One browser per test file (launched in `before`, closed in `after`), one fresh context per test,
 * so cookies and authenticators never leak between tests. Every page records CSP violations (console
 * reports and `securitypolicyviolation` events) so a test can assert the pages hold under the CSP.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Phone viewport used for layout checks (an iPhone 12-15 in CSS pixels). */
export const PHONE = { width: 390, height: 844 };

/** Launches Chromium once for the calling test file and closes it after the file's tests. */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: LAUNCH_ARGS });
  });
  after(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('browser not launched: call useBrowser() at the top of a describe');
    return browser;
  };
}

/** Options for a virtual authenticator (Chrome DevTools WebAuthn.VirtualAuthenticatorOptions). */
export interface AuthenticatorOptions {
  transport: 'internal' | 'usb' | 'nfc' | 'ble' | 'hybrid';
  hasResidentKey: boolean;
  hasUserVerification: boolean;
  isUserVerified?: boolean;
  automaticPresenceSimulation?: boolean;
}

/** A platform authenticator with user verification that stores passkeys (Touch ID, Windows Hello). */
export const PLATFORM_PASSKEY: AuthenticatorOptions = { transport: 'internal', hasResidentKey: true, hasUserVerification: true };
/** A USB security key with a PIN but without resident-key storage (older YubiKey-style key). */
export const USB_KEY_NO_RESIDENT: AuthenticatorOptions = { transport: 'usb', hasResidentKey: false, hasUserVerification: true };

/** A credential as the virtual authenticator reports it (WebAuthn.Credential). */
export interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  privateKey: string;
  userHandle?: string;
  signCount: number;
}

/** A virtual authenticator attached to one page's DevTools session. */
export class VirtualAuthenticator {
  constructor(
    readonly cdp: CDPSession,
    readonly id: string,
  ) {}

  async credentials(): Promise<VirtualCredential[]> {
    const { credentials } = await this.cdp.send('WebAuthn.getCredentials', { authenticatorId: this.id });
    return credentials;
  }

  /** Copies credentials (e.g. exported from another context's authenticator) into this one. */
  async addCredentials(credentials: VirtualCredential[]): Promise<void> {
    for (const credential of credentials) await this.cdp.send('WebAuthn.addCredential', { authenticatorId: this.id, credential });
  }

  /** What the authenticator answers when asked to verify the user (PIN/biometric). */
  async setUserVerified(isUserVerified: boolean): Promise<void> {
    await this.cdp.send('WebAuthn.setUserVerified', { authenticatorId: this.id, isUserVerified });
  }

  /** Whether the authenticator answers by itself (presence simulated) or waits forever, like an untouched key. */
  async setAutomaticPresenceSimulation(enabled: boolean): Promise<void> {
    await this.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: this.id, enabled });
  }

  async remove(): Promise<void> {
    await this.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: this.id });
  }
}

/** One test's browser context and page, with its DevTools session and what the CSP refused. */
export interface E2ePage {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  /** CSP violations seen so far: console reports and securitypolicyviolation events. */
  cspViolations: string[];
  /** Console errors and uncaught page errors (CSP reports included). */
  consoleErrors: string[];
  addAuthenticator(options: AuthenticatorOptions): Promise<VirtualAuthenticator>;
}

export interface OpenOptions {
  viewport?: { width: number; height: number };
  /** Screenshot file stem under /tmp when the test body throws. */
  name?: string;
}

/** Opens a fresh context and page and attaches the CSP and console listeners. */
export async function openPage(browser: Browser, opts: OpenOptions = {}): Promise<E2ePage> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1024, height: 800 } });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(10_000);
  const cspViolations: string[] = [];
  const consoleErrors: string[] = [];
  // The binding and init script are injected by DevTools, so the page's own CSP does not apply to them.
  await context.exposeBinding('__keygateCspViolation', (_source, text: string) => {
    cspViolations.push(`securitypolicyviolation: ${text}`);
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const report = (window as unknown as { __keygateCspViolation?: (t: string) => void }).__keygateCspViolation;
      report?.(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} on ${e.documentURI}`);
    });
  });
  // Records each WebAuthn call the page makes (and its mediation), so a test can tell when passkey
  // autofill has actually reached the authenticator. Behaviour is unchanged.
  await context.addInitScript(() => {
    const calls: string[] = [];
    (window as unknown as { __keygateWebAuthnCalls: string[] }).__keygateWebAuthnCalls = calls;
    const credentials = navigator.credentials;
    if (!credentials) return;
    const get = credentials.get.bind(credentials);
    const create = credentials.create.bind(credentials);
    credentials.get = (options?: CredentialRequestOptions) => {
      calls.push(`get:${options?.mediation ?? 'optional'}`);
      return get(options);
    };
    credentials.create = (options?: CredentialCreationOptions) => {
      calls.push('create');
      return create(options);
    };
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content[- ]Security[- ]Policy/i.test(text)) cspViolations.push(`console: ${text}`);
    if (msg.type() === 'error') consoleErrors.push(text);
  });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  return {
    context,
    page,
    cdp,
    cspViolations,
    consoleErrors,
    async addAuthenticator(options) {
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          ctap2Version: 'ctap2_1',
          transport: options.transport,
          hasResidentKey: options.hasResidentKey,
          hasUserVerification: options.hasUserVerification,
          isUserVerified: options.isUserVerified ?? true,
          automaticPresenceSimulation: options.automaticPresenceSimulation ?? true,
        },
      });
      return new VirtualAuthenticator(cdp, authenticatorId);
    },
  };
}

/**
 * Where screenshots go: a folder of this user's under the temporary directory (another user's
 * run, say root's in CI, must not own the files this run writes).
 */
export function screenshotPath(name: string): string {
  const dir = path.join(os.tmpdir(), `keygate-e2e-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
}

/**
 * Runs `body` with a fresh page; on failure saves a full-page screenshot (screenshotPath; its path is added to
 * the error) and always closes the context, so nothing is left running.
 */
export async function withPage<T>(browser: Browser, opts: OpenOptions, body: (p: E2ePage) => Promise<T>): Promise<T> {
  const p = await openPage(browser, opts);
  try {
    return await body(p);
  } catch (err) {
    const file = screenshotPath(opts.name ?? 'failure');
    const saved = await p.page.screenshot({ path: file, fullPage: true, timeout: 3000 }).then(
      () => true,
      () => false,
    );
    if (saved && err instanceof Error) err.message += `\n(screenshot: ${file}; page: ${p.page.url()})`;
    throw err;
  } finally {
    await p.context.close().catch(() => undefined);
  }
}

/** The WebAuthn calls the page has made so far: "create", "get:optional", "get:conditional"… */
export function webAuthnCalls(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __keygateWebAuthnCalls?: string[] }).__keygateWebAuthnCalls ?? []);
}

/** Waits until the login page's passkey autofill request has reached the browser's WebAuthn. */
export async function waitForAutofillArmed(page: Page): Promise<void> {
  await page.waitForFunction(() => ((window as unknown as { __keygateWebAuthnCalls?: string[] }).__keygateWebAuthnCalls ?? []).includes('get:conditional'));
}

/**
 * Waits until the message area shows an error, optionally a particular one, and returns its text.
 * Waiting for the expected text (not reading once) matters on the login page: after a failure it
 * re-arms passkey autofill, which may briefly show its own progress line.
 */
export async function errorMessage(page: Page, expected?: string | RegExp): Promise<string> {
  const error = page.locator('#message.message-error');
  await error.filter({ hasText: expected ?? /\S/ }).waitFor();
  return (await error.innerText()).trim();
}

/** Asserts a message is a sentence meant for a person: no stack trace, error class or JSON. */
export function assertHumanSentence(text: string): void {
  assert.match(text, /^[A-Z].{10,300}[.…!?]$/s, `not a sentence: ${JSON.stringify(text)}`);
  assert.doesNotMatch(
    text,
    /\bat .+:\d+:\d+|Error:|Exception|undefined|null|\{|\}|NotAllowedError|DOMException/,
    `technical text shown: ${JSON.stringify(text)}`,
  );
}

/**
 * Asserts the page kept to its CSP and its scripts threw nothing. The browser's own "Failed to load
 * resource" lines for API answers with an error status are expected in the failure flows.
 */
export function assertPageHealthy(p: E2ePage): void {
  assert.deepEqual(p.cspViolations, [], 'the page broke its own Content-Security-Policy');
  assert.deepEqual(
    p.consoleErrors.filter((e) => !/^Failed to load resource: the server responded with a status of \d+/.test(e)),
    [],
    'the page logged errors',
  );
}

/** Asserts the page is no wider than the viewport (no horizontal scrolling). */
export async function assertNoHorizontalOverflow(page: Page, width: number): Promise<void> {
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= width, `page is ${scrollWidth}px wide at a ${width}px viewport: ${page.url()}`);
}

/** Enrolment leads to the next-steps page (/-/welcome); its Continue button goes on to Gogs. */
export async function continueFromWelcome(page: Page): Promise<void> {
  await page.waitForURL((u) => u.pathname === '/-/welcome');
  await page.click('#continue');
}
