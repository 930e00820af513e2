// Validate custom resources against the schemas of @kubernetes-models/sealed-secrets and
// @kubernetes-models/external-secrets (generated from the projects' API types), strictly:
// a field the schema does not know is an error too.
//
//   node crd_validate.mjs NODE_MODULES_DIR < [{"apiVersion", "kind", ...}, ...]
//   -> [[{"path": "/spec/foo", "message": "..."}, ...], ...]   (one list per object, in order)
//
// The generated validators accept unknown properties, so every object is wrapped in a proxy that
// records which properties the validator looked at: a validator reads each property its schema
// declares, and every key of a map it iterates. A key of a checked object that was never read is
// unknown to the schema. Objects the validator never looked into are free-form and not judged.
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const SCHEMAS = {
  "bitnami.com/v1alpha1 SealedSecret":
    "@kubernetes-models/sealed-secrets/_schemas/ComGithubBitnamiLabsSealedSecretsPkgApisSealedsecretsV1alpha1SealedSecret.js",
  "external-secrets.io/v1 ExternalSecret":
    "@kubernetes-models/external-secrets/_schemas/ComGithubExternalSecretsExternalSecretsApisExternalsecretsV1ExternalSecret.js",
  "external-secrets.io/v1 SecretStore":
    "@kubernetes-models/external-secrets/_schemas/ComGithubExternalSecretsExternalSecretsApisExternalsecretsV1SecretStore.js",
};

function tracked(value, where, seen) {
  if (value === null || typeof value !== "object") return value;
  const read = new Set();
  seen.push({ where, value, read });
  const inner = Array.isArray(value)
    ? value.map((v, i) => tracked(v, `${where}/${i}`, seen))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tracked(v, `${where}/${k}`, seen)]));
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (typeof key === "string") read.add(key);
      return Reflect.get(target, key, receiver);
    },
  });
}

function describe(error) {
  const params = Object.entries(error.params || {})
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(", ");
  return `${error.keyword}${params ? ` (${params})` : ""}`;
}

async function check(modules, doc) {
  const key = `${doc.apiVersion} ${doc.kind}`;
  if (!(key in SCHEMAS)) return [{ path: "", message: `no schema for ${key}` }];
  const { validate } = await import(pathToFileURL(path.join(modules, SCHEMAS[key])).href);
  const seen = [];
  const problems = [];
  if (!validate(tracked(doc, "", seen))) {
    for (const error of validate.errors) problems.push({ path: error.instancePath, message: describe(error) });
  }
  for (const { where, value, read } of seen) {
    if (Array.isArray(value) || read.size === 0) continue;
    for (const k of Object.keys(value)) {
      if (!read.has(k)) problems.push({ path: `${where}/${k}`, message: "unknown field (not in the schema)" });
    }
  }
  return problems;
}

const modules = path.resolve(process.argv[2]);
const docs = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const doc of docs) results.push(await check(modules, doc));
process.stdout.write(JSON.stringify(results));
