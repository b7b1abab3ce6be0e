// Checks the examples of the topic API document, which `asyncapi validate`
// does not: every message has an example; every example matches its
// message's payload schema, and its summary ends with "On `<topic>`." for a
// topic of its channel; and every sealed example is a real test vector: its
// tag verifies under the example fleet secret the document states, its
// lifetime is the one the document gives, and its sealed PIN opens for its
// own envelope id.
//
// Usage: node check-examples.js <asyncapi.yaml>

import { readFileSync } from 'node:fs';
import { createDecipheriv, createHmac } from 'node:crypto';

import { Parser } from '@asyncapi/parser';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

// For examples only, stated in the document's description; never deployed.
const EXAMPLE_FLEET_SECRET =
  '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const EVENT_LIFETIME_MS = 30_000;
const COMMAND_LIFETIME_MS = 5_000;

const hmac = (key, ...parts) => {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
};

const lockerKey = (locker) =>
  hmac(Buffer.from(EXAMPLE_FLEET_SECRET, 'hex'), `armory/v1 locker ${locker}`);

const uuidBytes = (id) => Buffer.from(id.replaceAll('-', ''), 'hex');

function openPin(key, sealed, envelopeId) {
  const bytes = Buffer.from(sealed, 'base64');
  const pinKey = hmac(key, 'armory/v1 pin seal');
  const nonce = bytes.subarray(0, 12);
  const ciphertext = bytes.subarray(12, bytes.length - 16);
  const tag = bytes.subarray(bytes.length - 16);
  const decipher = createDecipheriv('chacha20-poly1305', pinKey, nonce, {
    authTagLength: 16,
  });
  decipher.setAAD(uuidBytes(envelopeId), { plaintextLength: ciphertext.length });
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
}

// The same check a receiver makes, over the example as written: its field
// order must already be the canonical one.
function checkSealed(where, topic, envelope) {
  const problems = [];
  const locker = topic.split('/')[3];
  const key = lockerKey(locker);
  const unsigned = JSON.stringify({ ...envelope, tag: '' });
  const expected = hmac(key, topic, '\n', unsigned).toString('hex');
  if (envelope.tag !== expected) {
    problems.push(`${where}: tag does not verify on ${topic} (expected ${expected})`);
  }

  const lifetime = Date.parse(envelope.expires_at) - Date.parse(envelope.at);
  const wanted = envelope.sender === 'armory' ? COMMAND_LIFETIME_MS : EVENT_LIFETIME_MS;
  if (lifetime !== wanted) {
    problems.push(`${where}: lifetime is ${lifetime} ms, the document says ${wanted} ms`);
  }

  if (envelope.body?.pin_sealed !== undefined) {
    try {
      const pin = openPin(key, envelope.body.pin_sealed, envelope.id);
      if (!/^[0-9]{4,12}$/.test(pin)) problems.push(`${where}: sealed PIN is not 4 to 12 digits`);
    } catch (error) {
      problems.push(`${where}: sealed PIN does not open: ${error.message}`);
    }
  }
  return problems;
}

function addressPattern(address) {
  const escaped = address.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/\{[^}]+\}/g, '[A-Za-z0-9._-]{1,64}')}$`);
}

async function main() {
  const path = process.argv[2];
  if (!path) throw new Error('usage: node check-examples.js <asyncapi.yaml>');

  const { document, diagnostics } = await new Parser().parse(readFileSync(path, 'utf8'));
  if (!document) {
    for (const d of diagnostics) console.error(`${path}: ${d.message} at ${d.path.join('.')}`);
    throw new Error(`${path} does not parse`);
  }

  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const problems = [];
  let checked = 0;

  for (const channel of document.channels().all()) {
    const pattern = addressPattern(channel.address());
    for (const message of channel.messages().all()) {
      const where = `channel ${channel.id()}, message ${message.id()}`;
      const examples = message.examples().all();
      if (examples.length === 0) problems.push(`${where}: has no example`);

      const validate = ajv.compile(message.payload().json());
      for (const example of examples) {
        const at = `${where}, example ${example.name()}`;
        const topic = /On `([^`]+)`\.$/.exec(example.summary() ?? '')?.[1];
        if (topic === undefined || !pattern.test(topic)) {
          problems.push(`${at}: summary names no topic of ${channel.address()}`);
        }
        const payload = example.payload();
        if (!validate(payload)) {
          for (const e of validate.errors) {
            problems.push(`${at}: payload${e.instancePath} ${e.message}`);
          }
        }
        if (typeof payload?.tag === 'string' && topic !== undefined) {
          problems.push(...checkSealed(at, topic, payload));
        }
        checked += 1;
      }
    }
  }

  for (const problem of problems) console.error(problem);
  console.log(`${checked} examples checked, ${problems.length} problems`);
  if (problems.length > 0) process.exit(1);
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
