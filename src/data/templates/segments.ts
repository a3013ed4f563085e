/**
 * What a template produces: the example's text as ordered segments, each marked trainable
 * (response / assistant text: its tokens get labels) or not (prompt, system, user, markup).
 * Masks stay exact because segment boundaries are known before tokenization.
 */
export interface Segment {
  text: string;
  trainable: boolean;
}

export interface Template {
  readonly name: string;
  /** Segments of one record; throws DataError when the record does not fit the template. */
  render(record: import("../types.js").ExampleRecord): Segment[];
}
