/**
 * The "model output": ASCII words from a seeded PRNG. ASCII keeps bytes == characters, so a delta cut at
 * any offset is valid UTF-8 and `outputBytes` is exact.
 */
import { pick, seededRandom } from "./random.ts";

const WORDS = [
  "the",
  "relay",
  "runs",
  "long",
  "responses",
  "in",
  "background",
  "mode",
  "while",
  "callers",
  "poll",
  "status",
  "and",
  "wait",
  "for",
  "a",
  "signed",
  "webhook",
  "each",
  "job",
  "is",
  "queued",
  "then",
  "streams",
  "tokens",
  "until",
  "it",
  "completes",
  "model",
  "output",
  "reasoning",
  "about",
  "tables",
  "events",
  "retries",
  "with",
  "jitter",
  "sequence",
  "numbers",
  "resume",
  "after",
  "cut",
  "connection",
  "deadline",
  "upstream",
  "cost",
  "usage",
  "cached",
  "input",
  "research",
  "report",
  "summary",
  "of",
  "findings",
  "careful",
  "analysis",
  "shows",
  "that",
  "data",
  "stays",
  "intact",
  "across",
  "restarts",
];

/**
 * Exactly `bytes` bytes of text determined by `seed`. Generation is sequential, so a shorter text with the
 * same seed is a prefix of a longer one (partial outputs of failed/incomplete jobs stay consistent).
 */
export function generateText(seed: number, bytes: number): string {
  const rand = seededRandom(seed);
  const parts: string[] = [];
  let joinedLength = -1; // parts.join(" ").length
  let wordsInSentence = 0;
  while (joinedLength < bytes) {
    let word = pick(WORDS, rand);
    if (wordsInSentence === 0) word = word.charAt(0).toUpperCase() + word.slice(1);
    wordsInSentence++;
    if (wordsInSentence > 5 && rand() < 0.15) {
      word += ".";
      wordsInSentence = 0;
    }
    parts.push(word);
    joinedLength += word.length + 1;
  }
  return parts.join(" ").slice(0, bytes);
}

/** Small LRU by byte budget: multi-MB outputs are regenerated on demand instead of pinned per job. */
export class TextCache {
  readonly #entries = new Map<string, string>();
  #bytes = 0;
  constructor(private readonly budgetBytes = 128 * 1024 * 1024) {}

  get(key: string, make: () => string): string {
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    const text = make();
    this.#entries.set(key, text);
    this.#bytes += text.length;
    for (const [oldKey, oldText] of this.#entries) {
      if (this.#bytes <= this.budgetBytes || oldKey === key) break;
      this.#entries.delete(oldKey);
      this.#bytes -= oldText.length;
    }
    return text;
  }
}
