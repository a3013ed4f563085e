/**
 * The vocabulary the built-in data is made of: common short English words and pseudo-words built
 * from syllables, so that the pretraining text and the instruction tasks share letters and words
 * while the task space stays far larger than any word list.
 */
import type { Xoshiro128 } from "../../core/rng.js";

const list = (words: string): readonly string[] => words.trim().split(/\s+/);

export const NOUNS = list(`
  cat dog fox owl bird fish frog bear wolf deer duck goat lion mouse horse sheep tiger zebra
  snake whale apple pear plum lemon melon grape bread cake soup rice milk tea cup box bag hat coat
  shoe sock ball kite drum book pen map key door wall roof room house tree leaf rock sand hill lake
  river sea star moon sun rain snow wind cloud road ship boat train car bike park town city farm
  field garden forest island bridge window table chair clock lamp bell song game story letter
  number friend child baker king queen robot dragon pirate wizard
`);

export const ADJECTIVES = list(`
  big small red blue green old new fast slow warm cold soft loud quiet happy sad brave tiny tall
  short bright dark clean funny kind shy wise busy lazy sweet sour round flat heavy light quick
  silly gentle golden little
`);

export const VERBS = list(`
  sees finds likes wants takes makes helps calls holds reads paints draws builds opens counts
  brings keeps loves meets follows
`);

export const NAMES = list(`
  Anna Ben Cleo Dan Eva Finn Gus Hana Ivan June Kai Lena Max Nora Omar Pia Rosa Sam Tom Uma Vic
  Wren Yara Zoe
`);

/** Every lowercase real word, for the word tasks. */
export const WORDS: readonly string[] = [...NOUNS, ...ADJECTIVES, ...VERBS];

const ONSETS = list("b d f g h k l m n p r s t v z ch sh st tr br");
const VOWELS = list("a e i o u a e o ai ou");
const CODAS = ["", "", "", ...list("n r s t l m ck")];

export function pick<T>(rng: Xoshiro128, items: readonly T[]): T {
  return items[rng.nextBelow(items.length)];
}

/** Uniform integer in [lo, hi]. */
export function between(rng: Xoshiro128, lo: number, hi: number): number {
  return lo + rng.nextBelow(hi - lo + 1);
}

/** A pronounceable pseudo-word of `minLength` … `maxLength` lowercase letters. */
export function pseudoWord(rng: Xoshiro128, minLength = 3, maxLength = 8): string {
  for (;;) {
    const syllables = between(rng, 1, 3);
    let word = "";
    for (let i = 0; i < syllables; i++) {
      word += pick(rng, ONSETS) + pick(rng, VOWELS) + pick(rng, CODAS);
    }
    if (word.length >= minLength && word.length <= maxLength) return word;
  }
}

/** A real word half of the time, else a pseudo-word; `minLength` … `maxLength` letters. */
export function anyWord(rng: Xoshiro128, minLength = 3, maxLength = 8): string {
  if (rng.nextFloat() < 0.5) {
    for (let tries = 0; tries < 8; tries++) {
      const word = pick(rng, WORDS);
      if (word.length >= minLength && word.length <= maxLength) return word;
    }
  }
  return pseudoWord(rng, minLength, maxLength);
}
