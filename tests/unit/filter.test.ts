import { describe, expect, it } from "vitest";
import { MemoryError } from "../../src/errors.js";
import { parseWhere } from "../../src/filter.js";
import { type ColumnKind, compileFilter, sqlLiteral, sqlString } from "../../src/store/sql.js";

const columns = new Map<string, ColumnKind>([
  ["topic", "string"],
  ["year", "number"],
  ["draft", "boolean"],
  ["tags", "string[]"],
]);

const sql = (where: Record<string, unknown>) => {
  const filter = parseWhere(where);
  if (!filter) throw new Error("empty filter");
  return compileFilter(filter, columns, true);
};

describe("sql literals", () => {
  it("escapes quotes by doubling and leaves backslashes literal", () => {
    expect(sqlString("it's")).toBe("'it''s'");
    expect(sqlString("a\\'b")).toBe("'a\\''b'");
    expect(sqlString("'); DROP TABLE x; --")).toBe("'''); DROP TABLE x; --'");
    expect(() => sqlString("nul\u0000")).toThrow(MemoryError);
  });

  it("writes numbers as floats and booleans as the stored 0/1", () => {
    expect(sqlLiteral(3)).toBe("3.0");
    expect(sqlLiteral(-2.5)).toBe("-2.5");
    expect(sqlLiteral(1e300)).toBe("1e+300");
    expect(sqlLiteral(true)).toBe("1");
    expect(() => sqlLiteral(Number.NaN)).toThrow();
  });
});

describe("parseWhere + compileFilter", () => {
  it("compiles each operator", () => {
    expect(sql({ topic: "a" })).toBe("`m_topic` = 'a'");
    expect(sql({ year: { $ne: 1 } })).toBe("`m_year` <> 1.0");
    expect(sql({ year: { $gt: 1, $lte: 5 } })).toBe("(`m_year` > 1.0 AND `m_year` <= 5.0)");
    expect(sql({ topic: { $in: ["a", "b"] } })).toBe("`m_topic` IN ('a', 'b')");
    expect(sql({ topic: { $nin: ["a"] } })).toBe("`m_topic` NOT IN ('a')");
    expect(sql({ draft: false })).toBe("`m_draft` = 0");
    expect(sql({ tags: "x" })).toBe("array_has(`m_tags`, 'x')");
    expect(sql({ tags: { $in: ["x", "y"] } })).toBe("array_has_any(`m_tags`, make_array('x', 'y'))");
    expect(sql({ $or: [{ topic: "a" }, { $and: [{ year: 1 }, { draft: true }] }] })).toBe(
      "(`m_topic` = 'a' OR (`m_year` = 1.0 AND `m_draft` = 1))",
    );
  });

  it("compiles a key no document has to FALSE", () => {
    expect(sql({ missing: "x" })).toBe("FALSE");
    expect(sql({ missing: { $nin: [1] } })).toBe("FALSE");
  });

  it("returns undefined for an empty filter", () => {
    expect(parseWhere({})).toBeUndefined();
  });

  it("rejects malformed filters with a MemoryError that shows the syntax", () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ topic: { $like: "a%" } }, /unknown operator "\$like"/],
      [{ $nor: [{ a: 1 }] }, /unknown operator/],
      [{ $and: {} }, /non-empty array/],
      [{ $and: [1] }, /items must be objects/],
      [{ topic: [1, 2] }, /got an array/],
      [{ topic: { $in: [] } }, /non-empty array/],
      [{ topic: { $gt: { x: 1 } } }, /got a object/],
      [{ topic: {} }, /is empty/],
      [{ "a.b": 1 }, /not valid/],
      [{ year: { $eq: Number.POSITIVE_INFINITY } }, /finite/],
    ];
    for (const [where, message] of bad) {
      expect(() => parseWhere(where)).toThrow(message);
      try {
        parseWhere(where);
      } catch (error) {
        expect(error).toBeInstanceOf(MemoryError);
        expect((error as MemoryError).code).toBe("invalid_filter");
        expect((error as Error).message).toMatch(/Examples:/);
      }
    }
  });

  it("refuses type mismatches against the collection's columns", () => {
    expect(() => sql({ year: "2020" })).toThrow(/"year" holds numbers/);
    expect(() => sql({ topic: 1 })).toThrow(/"topic" holds strings/);
    expect(() => sql({ tags: 1 })).toThrow(/lists of strings/);
    expect(() => sql({ tags: { $gt: "a" } })).toThrow(/use \$eq\/\$ne/);
  });

  it("limits depth and size", () => {
    let deep: Record<string, unknown> = { a: 1 };
    for (let i = 0; i < 8; i++) deep = { $or: [deep, { b: 1 }] };
    expect(() => parseWhere(deep)).toThrow(/nesting deeper than 8/);
    const wide = { $or: Array.from({ length: 101 }, (_, i) => ({ [`k${i}`]: i })) };
    expect(() => parseWhere(wide)).toThrow(/more than 100 conditions/);
  });
});

describe("time filters", () => {
  const at = (iso: string) => Date.parse(iso);
  it("compile to the time columns, pushed into LanceDB as millisecond timestamps", () => {
    expect(sql({ updated_at: { $gte: "2026-11-01T00:00:00Z" } })).toBe(
      `\`updated_at\` >= to_timestamp_millis(${at("2026-11-01T00:00:00Z")})`,
    );
    expect(sql({ created_at: "2026-11-01", topic: "x" })).toBe(
      `(\`created_at\` = to_timestamp_millis(${at("2026-11-01T00:00:00Z")}) AND \`m_topic\` = 'x')`,
    );
  });
  it("match nothing in a table without time columns (every time unknown)", () => {
    const filter = parseWhere({ created_at: { $lt: "2030-01-01T00:00:00Z" } });
    if (!filter) throw new Error("empty filter");
    expect(compileFilter(filter, columns, false)).toBe("FALSE");
  });
  it("refuse what is not an ISO 8601 time, and set operators, saying which forms work", () => {
    for (const where of [
      { updated_at: { $gte: "last week" } },
      { updated_at: { $gte: 1793000000000 } },
      { updated_at: { $gte: "2026-11-01T00:00:00" } },
      { created_at: { $in: ["2026-11-01"] } },
      { created_at: true },
    ]) {
      expect(() => parseWhere(where), JSON.stringify(where)).toThrow(/created_at|updated_at/);
    }
    expect(() => parseWhere({ updated_at: { $gte: "yesterday" } })).toThrow(/2026-11-01T09:30:00Z/);
  });
});
