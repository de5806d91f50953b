/**
 * Benchmark inputs made from real sentences, deterministically: the same file gives the same texts.
 */

/** Words separated by whitespace; what "a 200-word text" counts. */
export function wordCount(text: string): number {
  return text.split(/\s+/).filter((word) => word.length > 0).length;
}

/**
 * Texts of exactly `words` words, each made by joining consecutive sentences (in order, wrapping
 * around) and cutting the last one at the word limit. Consecutive texts start at consecutive
 * sentences, so no two are the same.
 */
export function longTexts(sentences: readonly string[], count: number, words: number): string[] {
  const split = sentences.map((sentence) => sentence.split(/\s+/).filter((word) => word.length > 0));
  if (!split.some((sentenceWords) => sentenceWords.length > 0)) {
    throw new Error("longTexts: the sentences hold no words to build texts from");
  }
  const texts: string[] = [];
  for (let start = 0; texts.length < count; start++) {
    const taken: string[] = [];
    for (let next = start; taken.length < words; next++) {
      taken.push(...(split[next % split.length] ?? []));
    }
    texts.push(taken.slice(0, words).join(" "));
  }
  return texts;
}
