/**
 * Generic "pretraining" text for the built-in base model: short templated sentences over the same
 * words, letters and numbers as the instruction tasks — stories, lists, counting, shouting —
 * deliberately not in the instruction format (no "task: input" line followed by an answer), so
 * instruction tuning has something to teach.
 */
import { deriveKey, Xoshiro128 } from "../../core/rng.js";
import { DataError } from "../types.js";
import { ADJECTIVES, anyWord, between, NAMES, NOUNS, pick, pseudoWord, VERBS } from "./words.js";

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

const plural = (noun: string) =>
  /(s|x|sh|ch)$/.test(noun)
    ? `${noun}es`
    : noun.endsWith("y")
      ? `${noun.slice(0, -1)}ies`
      : `${noun}s`;

/** One line of text. */
function sentence(rng: Xoshiro128): string {
  const noun = () => pick(rng, NOUNS);
  const adj = () => pick(rng, ADJECTIVES);
  const name = () => pick(rng, NAMES);
  switch (rng.nextBelow(20)) {
    case 0:
      return `the ${adj()} ${noun()} ${pick(rng, VERBS)} the ${noun()}.`;
    case 1:
      return `${name()} has ${between(rng, 2, 99)} ${plural(noun())} and ${between(rng, 2, 99)} ${plural(noun())}.`;
    case 2:
      return `${name()} ${pick(rng, VERBS)} a ${adj()} ${noun()} in the ${noun()}.`;
    case 3:
      return `${noun().toUpperCase()} AND ${noun().toUpperCase()}!`;
    case 4: {
      const start = between(rng, 0, 60);
      const step = between(rng, 1, 5);
      const seq = Array.from({ length: between(rng, 4, 7) }, (_, i) => start + i * step);
      return `${name()} counted ${seq.join(", ")}.`;
    }
    case 5: {
      const start = between(rng, 0, 18);
      return `the letters ${[...LETTERS.slice(start, start + between(rng, 4, 8))].join(" ")}.`;
    }
    case 6:
      return `a ${pseudoWord(rng)} is a ${adj()} ${noun()}.`;
    case 7:
      return `we saw a ${anyWord(rng)}, a ${anyWord(rng)} and a ${anyWord(rng)}.`;
    case 8: {
      // Repetition within a line: what lets a model learn to copy from its context.
      const word = anyWord(rng);
      return `${name()} said "${word}" and ${name()} said "${word}" too.`;
    }
    case 9: {
      const word = anyWord(rng);
      return `${word}? ${word.toUpperCase()}! ${name()} shouted.`;
    }
    case 10: {
      const word = anyWord(rng, 3, 6);
      return `the ${noun()} went ${Array(between(rng, 2, 4))
        .fill(word)
        .join(" ")}.`;
    }
    case 11:
      return `the ${noun()} is ${between(rng, 1, 999)} steps from the ${noun()}, ${name()} said.`;
    case 12:
      return `is the ${noun()} ${adj()}? yes, very ${adj()}.`;
    case 13: {
      const word = pseudoWord(rng);
      return `my ${noun()} is called ${word}. ${word} is ${adj()}.`;
    }
    case 14:
      return `${name()} is ${between(rng, 2, 90)} and ${name()} is ${between(rng, 2, 90)}.`;
    case 15:
    case 16: {
      const words = Array.from({ length: between(rng, 1, 3) }, () => anyWord(rng)).join(" ");
      return `${name()} wrote ${words}, then ${words} again.`;
    }
    case 17: {
      const word = pseudoWord(rng, 4, 8);
      return `"${word}", said the ${noun()}. "${word}?" asked ${name()}.`;
    }
    case 18: {
      const n = String(between(rng, 10, 9999));
      return `the code is ${n}. yes, ${n}.`;
    }
    default:
      return `${name()} and ${name()} went to the ${adj()} ${noun()} at ${between(rng, 1, 12)}.`;
  }
}

/**
 * An endless stream of lines of generic text (no newline inside a line), a pure function of the
 * seed: the same seed gives the same lines in the same order.
 */
export function* pretrainingLines(seed: number): Generator<string, never, undefined> {
  const rng = new Xoshiro128(deriveKey(seed >>> 0, 0x7e47));
  for (;;) yield sentence(rng);
}

export interface PretrainingTextOptions {
  seed: number;
  /** Number of lines. */
  lines: number;
}

/**
 * The first `lines` lines of `pretrainingLines(seed)`.
 *
 * @example
 * pretrainingText({ seed: 0, lines: 2 }); // e.g. ["the red fox sees the lamp.", "KITE AND SOCK!"]
 */
export function pretrainingText(options: PretrainingTextOptions): string[] {
  if (!Number.isInteger(options.lines) || options.lines < 0) {
    throw new DataError(
      "invalid_option",
      `lines must be a non-negative integer, received ${options.lines}`,
    );
  }
  const lines = pretrainingLines(options.seed);
  return Array.from({ length: options.lines }, () => lines.next().value);
}
