// fast-check arbitraries for JSON request bodies: values shaped by a route's own JSON schema (then broken), arbitrary JSON, and raw texts no JSON parser should choke on.
import fc from 'fast-check';
import { hostileString } from '../../unit/fuzz/fuzz.ts';

/** A JSON schema as TypeBox emits it (the subset routes use). */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
}

/** Strings the schema allows in shape (pattern, format, length), with hostile content where it allows any. */
function stringFor(s: JsonSchema): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 64, 512);
  const fit = (v: string) => (v.length > max ? v.slice(0, max) : v);
  if (s.pattern) {
    let re: RegExp | undefined;
    try {
      re = new RegExp(s.pattern);
    } catch {
      re = undefined;
    }
    if (re) return fc.oneof({ weight: 4, arbitrary: fc.stringMatching(re).map(fit) }, { weight: 1, arbitrary: hostileString(max) });
  }
  switch (s.format) {
    case 'date-time':
      return fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
    case 'date':
      return fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
    case 'email':
      return fc.emailAddress();
    case 'uri':
      return fc.webUrl();
  }
  return fc.oneof(
    { weight: 2, arbitrary: fc.string({ minLength: min, maxLength: max }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: min, maxLength: max }) },
    { weight: 2, arbitrary: hostileString(Math.max(1, max)).map(fit) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '0', '-1', 'null', '__proto__', 'constructor', "' or 1=1 --", '../../etc/passwd', '${jndi:ldap://x}', '%00', '\u0000', '\ud800').map(fit) },
  );
}

function numberFor(s: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : undefined);
  const hi = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : undefined);
  const edges = [0, -1, 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 31, ...(lo !== undefined ? [lo, lo - 1] : []), ...(hi !== undefined ? [hi, hi + 1] : [])];
  const inRange = integer
    ? fc.integer({ min: Math.max(lo ?? -(2 ** 31), Number.MIN_SAFE_INTEGER), max: Math.min(hi ?? 2 ** 31, Number.MAX_SAFE_INTEGER) })
    : fc.double({ noNaN: true, noDefaultInfinity: true, ...(lo !== undefined ? { min: lo } : {}), ...(hi !== undefined ? { max: hi } : {}) });
  return fc.oneof({ weight: 3, arbitrary: inRange }, { weight: 1, arbitrary: fc.constantFrom(...edges) });
}

/**
 * Values of the shape `schema` describes: required keys present, optional ones sometimes,
 * strings by pattern or format, numbers in range and at its edges. Valid or nearly so, so a good
 * share of cases gets past validation into the handler, where a 500 would hide.
 */
export function valueFor(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || typeof schema !== 'object' || depth > 6) return fc.jsonValue({ maxDepth: 1 });
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternatives) && alternatives.length > 0) return fc.oneof(...alternatives.map((a) => valueFor(a, depth + 1)));
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    const merged: JsonSchema = { type: 'object', properties: {}, required: [] };
    for (const part of schema.allOf) {
      Object.assign(merged.properties!, part.properties ?? {});
      merged.required!.push(...(part.required ?? []));
    }
    return valueFor(merged, depth + 1);
  }
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const props = schema.properties ?? {};
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = valueFor(v, depth + 1);
      return fc.record(model, { requiredKeys: (schema.required ?? []).filter((k) => k in props) });
    }
    case 'array':
      return fc.array(valueFor(schema.items, depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 8) });
    case 'string':
      return stringFor(schema);
    case 'integer':
      return numberFor(schema, true);
    case 'number':
      return numberFor(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** One change that should make a valid body invalid (or at least strange): a key dropped, retyped or added. */
function mutate(value: unknown): fc.Arbitrary<unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fc.jsonValue({ maxDepth: 2 });
  const keys = Object.keys(value);
  const changes: fc.Arbitrary<unknown>[] = [
    fc.tuple(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 })).map(([k, v]) => ({ ...value, [k]: v })),
    fc.constantFrom('null', 'true', '1', '"x"', '[]').map((t) => ({ ...value, wrong: JSON.parse(t) as unknown })),
  ];
  if (keys.length > 0) {
    const key = fc.constantFrom(...keys);
    changes.push(key.map((k) => Object.fromEntries(Object.entries(value).filter(([x]) => x !== k))));
    changes.push(fc.tuple(key, fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(null, [], {}, '', 0, -1, 1e308, true))).map(([k, v]) => ({ ...value, [k]: v })));
    changes.push(key.map((k) => ({ ...value, [k]: 'x'.repeat(100_000) })));
  }
  return fc.oneof(...changes);
}

/** `{"__proto__": …, "constructor": {"prototype": …}, …rest}` as text: JSON.stringify never writes a __proto__ key. */
function withPrototypeKeys(value: unknown): string {
  const rest = JSON.stringify(value ?? {});
  const head = '"__proto__":{"polluted":"yes","isAdmin":true},"constructor":{"prototype":{"polluted":"yes"}}';
  if (rest.startsWith('{') && rest !== '{}') return `{${head},${rest.slice(1)}`;
  return `{${head}}`;
}

/** Raw request texts: broken JSON, invalid escapes and UTF-8, deep nesting, huge strings and bodies. */
const RAW_TEXTS: readonly (string | Buffer)[] = [
  '', ' ', '{', '}', '{"a":', '{"a":1,}', "{'a':1}", '{"a":NaN}', '{"a":Infinity}', '{"a":1e999}', '{"a":-0}', '{"a":0x10}',
  '{"a":"\\uZZZZ"}', '{"a":"\\u00"}', '{"a":"\\ud800"}', '{"a":"\\udfff\\ud800"}', '{"a":"\\x41"}', '{"a":"\u0000"}', '{"\\u0000":1}',
  '\ufeff{}', '{"a":1}{"b":2}', '[]', 'null', 'true', '0', '"x"', '{"a":1, "a":2}',
  `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
  `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
  JSON.stringify({ a: 'x'.repeat(250 * 1024) }),
  JSON.stringify({ a: 'x'.repeat(300 * 1024) }),
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc0, 0x80, 0x22, 0x7d]),
  Buffer.from([0xfe, 0xff, 0x00, 0x7b, 0x00, 0x7d]),
];

export interface BodyCase {
  /** The raw payload sent. */
  payload: string | Buffer;
  contentType: string | undefined;
  /** Whether the payload is the schema's shape unchanged (a 2xx is plausible). */
  shaped: boolean;
}

/** Everything sent to one route: shaped by its schema, shaped then broken, prototype keys, arbitrary JSON, raw texts. */
export function bodyCase(schema: JsonSchema | undefined): fc.Arbitrary<BodyCase> {
  const shaped = valueFor(schema);
  const json = (v: unknown) => JSON.stringify(v) ?? 'null';
  const payload: fc.Arbitrary<{ payload: string | Buffer; shaped: boolean }> = fc.oneof(
    { weight: 4, arbitrary: shaped.map((v) => ({ payload: json(v), shaped: true })) },
    { weight: 3, arbitrary: shaped.chain(mutate).map((v) => ({ payload: json(v), shaped: false })) },
    { weight: 1, arbitrary: shaped.map((v) => ({ payload: withPrototypeKeys(v), shaped: false })) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => ({ payload: json(v), shaped: false })) },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_TEXTS).map((p) => ({ payload: p, shaped: false })) },
    { weight: 1, arbitrary: hostileString(120).map((p) => ({ payload: p, shaped: false })) },
  );
  const contentType = fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'application/problem+json', undefined) },
  );
  return fc.record({ p: payload, contentType }).map(({ p, contentType: ct }) => ({ payload: p.payload, shaped: p.shaped, contentType: ct }));
}
