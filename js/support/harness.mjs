// Shared parts of the Node suites: starting a Go program built into bin/,
// reading what it prints until it is ready, stopping it, and minting the
// HS256 tokens the emulator accepts. It lives outside test/ because
// `node --test test/` runs every .mjs file under test/ as a test file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// binaryPath returns the path of bin/<name> and fails, saying how to build
// it with hint, when it is missing.
export function binaryPath(name, hint = 'make build') {
  const binary = fileURLToPath(new URL(`../../bin/${name}`, import.meta.url));
  assert.ok(existsSync(binary), `${binary} is missing: run "${hint}" first`);
  return binary;
}

// startProgram spawns binary with args and reads its stdout line by line
// until ready(line) returns a value other than undefined. It resolves with
// the process, that value and every line printed up to then; it rejects,
// quoting those lines, if the program exits first. options go to spawn;
// stderr is inherited unless options.stdio says otherwise.
export async function startProgram(binary, args, ready, options = {}) {
  const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'], ...options });
  const lines = createInterface({ input: proc.stdout });
  const seen = [];
  const name = binary.split('/').pop();
  const value = await new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${name} exited early with code ${code}; it printed:\n${seen.join('\n')}`)));
    lines.on('line', (line) => {
      seen.push(line);
      const v = ready(line);
      if (v !== undefined) resolve(v);
    });
  });
  return { proc, value, seen };
}

// firstLine is a ready function for startProgram: the first line printed.
export const firstLine = (line) => line;

// openURL is a ready function for startProgram: the URL in the
// "open <url> in ..." line the chat example prints.
export const openURL = (line) => line.match(/open (http:\/\/\S+\/) in/)?.[1];

// stopProgram stops proc with SIGTERM, unless it has already exited, and
// checks that it exits with code 0; what names the check.
export async function stopProgram(proc, what) {
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.kill('SIGTERM');
  assert.equal(await exited, 0, what);
}

// parseConnectionString splits "Key=Value;..." (the emulator's first line)
// into an object; a value may itself contain "=".
export function parseConnectionString(text) {
  return Object.fromEntries(text.split(';').filter(Boolean).map((kv) => kv.split(/=(.*)/s).slice(0, 2)));
}

const b64url = (data) => Buffer.from(data).toString('base64url');

// tokenMinter returns mint(aud, claims), which signs an HS256 token valid
// for an hour the way the Azure SDKs do: key = UTF-8 bytes of accessKey,
// aud = the URL the token is for.
export function tokenMinter(accessKey) {
  return function mint(aud, claims = {}) {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64url(JSON.stringify({ ...claims, nbf: now, iat: now, exp: now + 3600, aud }));
    const signature = createHmac('sha256', Buffer.from(accessKey, 'utf8')).update(`${header}.${payload}`).digest('base64url');
    return `${header}.${payload}.${signature}`;
  };
}

// restCaller returns rest(method, path, body, extraQuery), which calls the
// emulator's REST API (api-version 2022-06-01) at endpoint with a server
// token from mint whose aud is the URL without query, and resolves to the
// HTTP status. extraQuery (such as "&reason=x") follows api-version.
export function restCaller(endpoint, mint) {
  return async function rest(method, path, body, extraQuery = '') {
    const url = `${endpoint}${path}`;
    const response = await fetch(`${url}?api-version=2022-06-01${extraQuery}`, {
      method,
      headers: { Authorization: `Bearer ${mint(url)}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return response.status;
  };
}

// inbox records what connection receives for target, in arrival order, and
// returns next(), which resolves with the oldest message not yet taken
// (waiting for one if need be), and pending(), the number received and not
// yet taken. Each message is what pick makes of the handler's arguments:
// by default the array of them. Call it before connection.start().
export function inbox(connection, target, pick = (...args) => args) {
  const received = [];
  const waiters = [];
  connection.on(target, (...args) => {
    received.push(pick(...args));
    while (waiters.length > 0 && received.length > 0) waiters.shift()(received.shift());
  });
  const next = () =>
    new Promise((resolve) => {
      if (received.length > 0) resolve(received.shift());
      else waiters.push(resolve);
    });
  return { next, pending: () => received.length };
}
