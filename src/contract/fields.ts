import { z } from "zod";
import { isTimeKey } from "../filter.js";
import { COLLECTION_NAME_PATTERN, ID_PATTERN, LIMITS, METADATA_KEY_PATTERN } from "../limits.js";
import { formatTime, parseTime, TIME_FORMS } from "../time.js";

/**
 * Unpaired UTF-16 surrogates cannot be stored as UTF-8: LanceDB would replace them, so "\ud800" and
 * "\udc00" would become the same id. Such strings are refused instead.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);
const WELL_FORMED = { message: "must be valid Unicode (no unpaired surrogate code units)" };

/**
 * zod's record() silently drops an own `__proto__` key; refusing it first keeps a filter from losing
 * a condition and metadata from losing a key without anyone being told.
 */
export function refuseProtoKey<T extends z.ZodType>(schema: T) {
  return z.preprocess((value, ctx) => {
    if (typeof value === "object" && value !== null && Object.hasOwn(value, "__proto__")) {
      ctx.issues.push({ code: "custom", message: '"__proto__" is not allowed as a key', input: value });
    }
    return value;
  }, schema);
}

/**
 * Text that is stored: not blank, valid Unicode, and not starting with a byte-order mark (LanceDB's
 * reader drops a leading U+FEFF, so it would not come back as given).
 */
export function storedText(max: number) {
  return z
    .string()
    .max(max)
    .refine((t) => t.trim().length > 0, { message: "text must not be empty" })
    .refine(wellFormed, WELL_FORMED)
    .refine((t) => !t.startsWith("\uFEFF"), {
      message: "text must not start with a byte-order mark (U+FEFF)",
    });
}

export const collectionName = z
  .string()
  .regex(
    COLLECTION_NAME_PATTERN,
    "collection names are 1-64 characters: lower-case letters, digits, _ and -, starting with a letter or digit",
  )
  .describe('Collection name: 1-64 characters, lower-case letters, digits, _ and -, e.g. "project-notes".');

export const documentId = z
  .string()
  .min(1)
  .max(LIMITS.idChars)
  .regex(ID_PATTERN, "ids must not contain control characters or start with a byte-order mark")
  .refine(wellFormed, WELL_FORMED)
  .describe(`Document id (any printable text, at most ${LIMITS.idChars} characters).`);

export const documentIds = z.array(documentId).min(1).max(LIMITS.idsPerCall);

const metadataString = z.string().max(LIMITS.metadataStringChars).refine(wellFormed, WELL_FORMED);

export const metadataValue = z.union([
  metadataString,
  z.number(),
  z.boolean(),
  z.array(metadataString).max(LIMITS.metadataArrayItems),
]);

export const metadataKey = z
  .string()
  .regex(
    METADATA_KEY_PATTERN,
    "metadata keys are letters, digits and _, starting with a letter or _, at most 64",
  );

/** Why metadata may not use created_at / updated_at: filters read those names as the document's own times. */
export const RESERVED_KEY_MESSAGE =
  "created_at and updated_at are the documents' own times, set by the server (a where filter on them reads those); name the metadata key otherwise, e.g. source_created_at";

export const metadata = refuseProtoKey(z.record(metadataKey, metadataValue))
  .refine((m) => Object.keys(m).length <= LIMITS.metadataKeysPerDocument, {
    message: `at most ${LIMITS.metadataKeysPerDocument} metadata keys per document`,
  })
  .refine((m) => !Object.keys(m).some(isTimeKey), { message: RESERVED_KEY_MESSAGE })
  .describe(
    "Flat metadata: values are strings, finite numbers, booleans or arrays of strings. Keys: letters, digits and _. A key keeps one type within a collection.",
  );

export const whereFilter = refuseProtoKey(z.record(z.string(), z.unknown())).describe(
  'Metadata filter, applied in the database before ranking (Chroma syntax): {"key": value} for equality, {"key": {"$op": value}} with $eq $ne $gt $gte $lt $lte $in $nin, and {"$and": [...]}, {"$or": [...]}. Several keys in one object must all match. For array metadata, $eq/$in test membership. created_at and updated_at filter on the documents\' own times with ISO 8601 strings, e.g. {"updated_at": {"$gte": "2026-11-01T00:00:00Z"}} ($eq $ne $gt $gte $lt $lte; a date alone means midnight UTC).',
);

export const modelRecord = z
  .object({
    model: z.string().describe("Embedding model id (hub id, local path or bundled name)."),
    dtype: z.string().describe("Weight precision of the model."),
    dimensions: z.number().int().describe("Length of the vectors."),
  })
  .describe("The embedding model this collection's vectors come from.");

/** A document's times as the tools return them. */
export const documentTimes = {
  created_at: z
    .string()
    .nullable()
    .describe(
      "When the document was first stored (ISO 8601, UTC, set by the server; an upsert keeps it). null: stored before times were kept.",
    ),
  updated_at: z
    .string()
    .nullable()
    .describe(
      "When its text or metadata last changed (ISO 8601, UTC; a repeat of the same write does not move it). null: unknown (stored before times were kept).",
    ),
};

/** A time given by a caller (an imported document's times): one of the accepted ISO 8601 forms, returned canonical. */
export const isoTime = z
  .string()
  .max(64)
  .transform((value, ctx) => {
    const ms = parseTime(value);
    if (ms === undefined) {
      ctx.issues.push({ code: "custom", message: `times are ISO 8601: ${TIME_FORMS}`, input: value });
      return z.NEVER;
    }
    return formatTime(ms);
  });
