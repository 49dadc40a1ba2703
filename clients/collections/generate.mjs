/**
 * Generate the Postman and Bruno collections from the served OpenAPI document.
 *
 *   node generate.mjs OPENAPI.json [OUT_DIR]     (OUT_DIR defaults to this folder)
 *
 * openapi-to-postmanv2 (Postman's own converter) and @usebruno/converters (Bruno's) turn every
 * operation into a request; this script then makes the result a runnable, checked collection: the
 * request values and order of scenario.mjs, the token request wired (Postman: a collection script
 * that fetches a client-credentials token when there is none or it is about to expire; Bruno: its
 * native OAuth2 client-credentials auth), a status check on every request, a JSON-schema check of
 * every JSON answer against the document (Postman), and environments with the base URL, client id
 * and secret. Bruno's converter gives a collection object; the .bru files are written with
 * @usebruno/filestore, the library the Bruno app itself saves with (no package writes a collection
 * folder). Output is deterministic (no random ids or faked values), so CI regenerates and compares.
 */

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import brunoConverters from "@usebruno/converters";
import filestore from "@usebruno/filestore";
import Converter from "openapi-to-postmanv2";

import { ENVIRONMENT, SCENARIO } from "./scenario.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const TOKEN_PATH = "/v1/oauth/token";

/** Every operation of the document: id, method, path, tag, the success status it documents. */
function operations(document) {
  const found = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const success = Object.keys(op.responses ?? {}).find((s) => s.startsWith("2"));
      found.push({ id: op.operationId, method: method.toUpperCase(), path, op, success: Number(success) });
    }
  }
  return found;
}

/** The scenario entry of each operation, in scenario order, then the operations it does not name. */
function plan(document) {
  const all = operations(document);
  const byId = new Map(all.map((o) => [o.id, o]));
  const steps = [];
  for (const step of SCENARIO) {
    const operation = byId.get(step.operationId);
    if (!operation) throw new Error(`scenario.mjs names ${step.operationId}, which the document does not have`);
    steps.push({ ...step, operation });
  }
  const named = new Set(SCENARIO.map((s) => s.operationId));
  for (const operation of all.filter((o) => !named.has(o.id))) {
    console.warn(`warning: ${operation.method} ${operation.path} (${operation.id}) is not in scenario.mjs: only checked for no 5xx`);
    steps.push({ operationId: operation.id, operation, unscripted: true });
  }
  return steps;
}

/** A JSON schema of the document with the component schemas it uses under `definitions`. */
function standalone(document, schema) {
  const definitions = {};
  const ANNOTATIONS = new Set(["description", "title", "examples", "example"]);
  // `names` is true inside `properties`, whose keys are field names (a field may be called "title").
  const rewrite = (node, names = false) => {
    if (Array.isArray(node)) return node.map((n) => rewrite(n));
    if (node === null || typeof node !== "object") return node;
    const out = {};
    for (const [key, value] of Object.entries(node)) {
      if (!names && key === "$ref" && typeof value === "string" && value.startsWith("#/components/schemas/")) {
        const name = value.slice("#/components/schemas/".length);
        if (!(name in definitions)) {
          definitions[name] = {};
          definitions[name] = rewrite(document.components.schemas[name]);
        }
        out.$ref = `#/definitions/${name}`;
      } else if (names || !ANNOTATIONS.has(key)) {
        out[key] = rewrite(value, !names && key === "properties");
      }
    }
    return out;
  };
  const root = rewrite(schema);
  return Object.keys(definitions).length ? { ...root, definitions } : root;
}

function successSchema(document, step) {
  const response = step.operation.op.responses?.[String(step.operation.success)];
  const schema = response?.content?.["application/json"]?.schema;
  return schema ? standalone(document, schema) : null;
}

// ---------------------------------------------------------------- Postman

const TOKEN_SCRIPT = [
  "// Fetch a client-credentials token when there is none or it expires within a minute.",
  "const tokenPath = '/v1/oauth/token';",
  "const anonymous = ['/healthz', '/readyz'];",
  "const path = '/' + pm.request.url.path.join('/');",
  "const expiresAt = Number(pm.collectionVariables.get('accessTokenExpiresAt') || 0);",
  "if (path !== tokenPath && !anonymous.includes(path) && (!pm.collectionVariables.get('accessToken') || Date.now() > expiresAt - 60000)) {",
  "  pm.sendRequest({",
  "    url: pm.variables.replaceIn('{{baseUrl}}') + tokenPath,",
  "    method: 'POST',",
  "    header: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },",
  "    body: { mode: 'urlencoded', urlencoded: [",
  "      { key: 'grant_type', value: 'client_credentials' },",
  "      { key: 'client_id', value: pm.variables.get('clientId') },",
  "      { key: 'client_secret', value: pm.variables.get('clientSecret') },",
  "    ] },",
  "  }, (error, response) => {",
  "    if (error || response.code !== 200) throw new Error('token request failed: ' + (error || response.code + ' ' + response.text()));",
  "    const token = response.json();",
  "    pm.collectionVariables.set('accessToken', token.access_token);",
  "    pm.collectionVariables.set('accessTokenExpiresAt', String(Date.now() + token.expires_in * 1000));",
  "  });",
  "}",
];

function postmanTests(document, step) {
  const lines = [];
  if (step.unscripted) {
    lines.push(
      "pm.test('no server error', () => pm.expect(pm.response.code).to.be.below(500));",
      "if (pm.response.code >= 400) pm.test('error in the contract envelope', () => {",
      "  pm.expect(pm.response.json()).to.have.all.keys('error_code', 'message', 'additional_information');",
      "});",
    );
    return lines;
  }
  lines.push(`pm.test('answers ${step.status}', () => pm.response.to.have.status(${step.status}));`);
  lines.push("pm.test('carries X-Request-Id', () => pm.response.to.have.header('X-Request-Id'));");
  const schema = successSchema(document, step);
  if (schema && step.status === step.operation.success) {
    lines.push(`pm.test('body matches the documented schema', () => pm.response.to.have.jsonSchema(${JSON.stringify(schema)}));`);
  }
  if (step.operationId === "issueToken") {
    lines.push(
      "const token = pm.response.json();",
      "pm.collectionVariables.set('accessToken', token.access_token);",
      "pm.collectionVariables.set('accessTokenExpiresAt', String(Date.now() + token.expires_in * 1000));",
    );
  }
  for (const [variable, field] of Object.entries(step.capture ?? {})) {
    lines.push(`pm.collectionVariables.set('${variable}', pm.response.json().${field});`);
  }
  return lines;
}

/** A path parameter's value: the scenario's, else the document's example (never a faked one). */
function pathValue(step, name) {
  if (step.path && name in step.path) return step.path[name];
  const parameter = (step.operation.op.parameters ?? []).find((p) => p.in === "path" && p.name === name);
  return String(parameter?.example ?? parameter?.schema?.examples?.[0] ?? parameter?.schema?.example ?? "example");
}

function postmanRequest(document, item, step) {
  const request = item.request;
  delete request.name;
  for (const variable of request.url.variable ?? []) variable.value = pathValue(step, variable.key);
  request.url.query = Object.entries(step.query ?? {}).map(([key, value]) => ({ key, value }));
  // Idempotency-Key is optional: leave it to the caller (a fixed one would replay the first answer).
  request.header = (request.header ?? []).filter((h) => h.key.toLowerCase() !== "idempotency-key");
  if (step.operationId === "issueToken") {
    request.auth = { type: "noauth" };
    request.body = {
      mode: "urlencoded",
      urlencoded: [
        { key: "grant_type", value: "client_credentials" },
        { key: "client_id", value: "{{clientId}}" },
        { key: "client_secret", value: "{{clientSecret}}" },
      ],
    };
  } else if (step.anonymous) {
    request.auth = { type: "noauth" };
  } else {
    delete request.auth;
  }
  if (request.body?.mode === "raw") {
    request.body.raw = JSON.stringify(step.body ?? {}, null, 2);
  }
  return {
    name: item.name,
    request,
    event: [{ listen: "test", script: { type: "text/javascript", exec: postmanTests(document, step) } }],
  };
}

async function postman(document) {
  const convert = promisify(Converter.convertV2);
  const result = await convert(
    { type: "json", data: structuredClone(document) },
    { folderStrategy: "Tags", parametersResolution: "Example", requestNameSource: "Fallback", includeAuthInfoInExample: false },
  );
  if (!result.result) throw new Error(`openapi-to-postmanv2: ${result.reason}`);
  const converted = result.output[0].data;
  // Find each converted request by method and path, then rebuild the folders in scenario order.
  const byRoute = new Map();
  for (const folder of converted.item) {
    for (const item of folder.item ?? [folder]) {
      const path = "/" + item.request.url.path.map((p) => (p.startsWith(":") ? `{${p.slice(1)}}` : p)).join("/");
      byRoute.set(`${item.request.method} ${path}`, { folder: folder.item ? folder.name : "", item });
    }
  }
  const folders = new Map();
  for (const step of plan(document)) {
    const found = byRoute.get(`${step.operation.method} ${step.operation.path}`);
    if (!found) throw new Error(`openapi-to-postmanv2 made no request for ${step.operationId}`);
    if (!folders.has(found.folder)) folders.set(found.folder, []);
    folders.get(found.folder).push(postmanRequest(document, found.item, step));
  }
  const info = { ...converted.info };
  delete info._postman_id;
  return {
    info,
    item: [...folders].map(([name, item]) => ({ name, item })),
    auth: { type: "bearer", bearer: [{ key: "token", value: "{{accessToken}}", type: "string" }] },
    event: [{ listen: "prerequest", script: { type: "text/javascript", exec: TOKEN_SCRIPT } }],
    variable: [
      { key: "baseUrl", value: ENVIRONMENT.baseUrl },
      { key: "accessToken", value: "" },
      { key: "accessTokenExpiresAt", value: "0" },
    ],
  };
}

function postmanEnvironment() {
  return {
    name: `provider-products ${ENVIRONMENT.name}`,
    values: [
      { key: "baseUrl", value: ENVIRONMENT.baseUrl, type: "default", enabled: true },
      { key: "clientId", value: "", type: "default", enabled: true },
      { key: "clientSecret", value: "", type: "secret", enabled: true },
    ],
    _postman_variable_scope: "environment",
  };
}

// ---------------------------------------------------------------- Bruno

function brunoRequest(item, step, seq) {
  const request = item.request;
  item.seq = seq;
  delete item.tags;
  // Keep the success example only: one per error code repeats the envelope a dozen times.
  item.examples = (item.examples ?? []).filter((e) => e.name === `${step.operation.success} Response`);
  request.headers = request.headers.filter((h) => h.name.toLowerCase() !== "idempotency-key");
  for (const param of request.params) {
    if (param.type === "path") param.value = pathValue(step, param.name);
  }
  request.params = request.params.filter((p) => p.type !== "query");
  request.url = request.url.split("?")[0];
  if (step.query) {
    for (const [name, value] of Object.entries(step.query)) {
      request.params.push({ name, value, type: "query", enabled: true, description: "" });
    }
    request.url += `?${new URLSearchParams(step.query)}`;
  }
  if (step.operationId === "issueToken") {
    request.auth = { mode: "none" };
    request.body.formUrlEncoded = [
      { name: "grant_type", value: "client_credentials", enabled: true },
      { name: "client_id", value: "{{clientId}}", enabled: true },
      { name: "client_secret", value: "{{clientSecret}}", enabled: true },
    ];
  } else {
    request.auth = { mode: step.anonymous ? "none" : "inherit" };
  }
  if (request.body?.mode === "json") request.body.json = JSON.stringify(step.body ?? {}, null, 2);
  if (step.unscripted) {
    request.assertions = [{ name: "res.status", value: "lt 500", enabled: true }];
  } else {
    request.assertions = [{ name: "res.status", value: `eq ${step.status}`, enabled: true }];
    const captures = Object.entries(step.capture ?? {}).map(([v, field]) => `bru.setVar("${v}", res.body.${field});`);
    if (captures.length) request.script = { res: captures.join("\n") };
  }
  return item;
}

function brunoCollection(document) {
  const collection = brunoConverters.openApiToBruno(structuredClone(document));
  const byRoute = new Map();
  for (const folder of collection.items) {
    for (const item of folder.items ?? [folder]) {
      const path = item.request.url.replace("{{baseUrl}}", "").split("?")[0].replace(/:([A-Za-z_]+)/g, "{$1}");
      byRoute.set(`${item.request.method} ${path}`, { folder, item });
    }
  }
  const folders = new Map();
  for (const step of plan(document)) {
    const found = byRoute.get(`${step.operation.method} ${step.operation.path}`);
    if (!found) throw new Error(`@usebruno/converters made no request for ${step.operationId}`);
    if (!folders.has(found.folder)) folders.set(found.folder, []);
    const items = folders.get(found.folder);
    items.push(brunoRequest(found.item, step, items.length + 1));
  }
  collection.root.request.auth = {
    mode: "oauth2",
    oauth2: {
      grantType: "client_credentials",
      accessTokenUrl: `{{baseUrl}}${TOKEN_PATH}`,
      clientId: "{{clientId}}",
      clientSecret: "{{clientSecret}}",
      scope: "",
      credentialsPlacement: "basic_auth_header",
      credentialsId: "credentials",
      tokenPlacement: "header",
      tokenHeaderPrefix: "Bearer",
      autoFetchToken: true,
      autoRefreshToken: true,
    },
  };
  return { collection, folders };
}

function fileName(name) {
  return name.replace(/[^A-Za-z0-9 _-]+/g, "").trim();
}

function writeBruno(document, out) {
  const { collection, folders } = brunoCollection(document);
  const format = { format: "bru" };
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "environments"), { recursive: true });
  const config = { version: "1", name: collection.name, type: "collection", ignore: ["node_modules", ".git"] };
  writeFileSync(join(out, "bruno.json"), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(join(out, "collection.bru"), filestore.stringifyCollection(collection.root, config, format));
  let folderSeq = 0;
  for (const [folder, items] of folders) {
    const dir = join(out, fileName(folder.name));
    mkdirSync(dir, { recursive: true });
    folder.root.meta = { name: folder.name, seq: ++folderSeq };
    writeFileSync(join(dir, "folder.bru"), filestore.stringifyFolder(folder.root, format));
    for (const item of items) {
      const text = filestore.stringifyRequest(item, format);
      filestore.parseRequest(text, format); // what Bruno will read back must parse
      writeFileSync(join(dir, `${fileName(item.name)}.bru`), text);
    }
  }
  const environment = {
    name: ENVIRONMENT.name,
    variables: [
      { name: "baseUrl", value: ENVIRONMENT.baseUrl, enabled: true, secret: false, type: "text" },
      { name: "clientId", value: "", enabled: true, secret: false, type: "text" },
      { name: "clientSecret", value: "", enabled: true, secret: true, type: "text" },
    ],
  };
  writeFileSync(join(out, "environments", `${ENVIRONMENT.name}.bru`), filestore.stringifyEnvironment(environment, format));
}

// ---------------------------------------------------------------- main

const [source, outArg] = process.argv.slice(2);
if (!source) {
  console.error("usage: node generate.mjs OPENAPI.json [OUT_DIR]");
  process.exit(2);
}
const out = outArg ?? here;
const document = JSON.parse(readFileSync(source, "utf-8"));
mkdirSync(join(out, "postman"), { recursive: true });
const json = (value) => `${JSON.stringify(value, null, 2)}\n`;
writeFileSync(join(out, "postman", "provider-products.postman_collection.json"), json(await postman(document)));
writeFileSync(join(out, "postman", "sandbox.postman_environment.json"), json(postmanEnvironment()));
writeBruno(document, join(out, "bruno"));
console.log(`wrote ${join(out, "postman")} and ${join(out, "bruno")}`);
