import { z } from "zod";
import { COLLECTION_NAME_PATTERN, ID_PATTERN, LIMITS, METADATA_KEY_PATTERN } from "../limits.js";

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
  .regex(ID_PATTERN, "ids must not contain control characters")
  .describe(`Document id (any printable text, at most ${LIMITS.idChars} characters).`);

export const documentIds = z.array(documentId).min(1).max(LIMITS.idsPerCall);

export const metadataValue = z.union([
  z.string().max(LIMITS.metadataStringChars),
  z.number(),
  z.boolean(),
  z.array(z.string().max(LIMITS.metadataStringChars)).max(LIMITS.metadataArrayItems),
]);

export const metadataKey = z
  .string()
  .regex(
    METADATA_KEY_PATTERN,
    "metadata keys are letters, digits and _, starting with a letter or _, at most 64",
  );

export const metadata = z
  .record(metadataKey, metadataValue)
  .refine((m) => Object.keys(m).length <= LIMITS.metadataKeysPerDocument, {
    message: `at most ${LIMITS.metadataKeysPerDocument} metadata keys per document`,
  })
  .describe(
    "Flat metadata: values are strings, finite numbers, booleans or arrays of strings. Keys: letters, digits and _. A key keeps one type within a collection.",
  );

export const whereFilter = z
  .record(z.string(), z.unknown())
  .describe(
    'Metadata filter, applied in the database before ranking (Chroma syntax): {"key": value} for equality, {"key": {"$op": value}} with $eq $ne $gt $gte $lt $lte $in $nin, and {"$and": [...]}, {"$or": [...]}. Several keys in one object must all match. For array metadata, $eq/$in test membership.',
  );

export const modelRecord = z
  .object({
    model: z.string().describe("Embedding model id (hub id, local path or bundled name)."),
    dtype: z.string().describe("Weight precision of the model."),
    dimensions: z.number().int().describe("Length of the vectors."),
  })
  .describe("The embedding model this collection's vectors come from.");
