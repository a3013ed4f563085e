/**
 * Finds where a text stops being valid JSON. `JSON.parse` often names no position
 * ("Unexpected token '}', …"), and an error in a 2 MB array file must say which line and
 * which element. This scanner runs only after `JSON.parse` has failed, so it is written for
 * clarity, not speed; it is iterative so that deep nesting cannot overflow the stack.
 */

export interface JsonErrorLocation {
  /** 0-based character offset of the first character that cannot be valid there. */
  offset: number;
  /** 1-based line and column of `offset`. */
  line: number;
  column: number;
  /** 0-based index of the top-level array element being read, when the text is an array. */
  element: number | null;
  /** What the grammar allows at `offset`, e.g. `',' or ']'`. */
  expected: string;
  /** What is there instead: a quoted character or "end of input". */
  received: string;
}

const WHITESPACE = /[ \t\n\r]*/y;
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids raw U+0000–U+001F in strings.
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const LITERAL = /true|false|null/y;

/** `'x'` for a visible character; JSON escapes (`"\u0001"`) for control characters. */
function quoteChar(c: string): string {
  return c < " " ? JSON.stringify(c) : `'${c}'`;
}

/** Length of the match of sticky `re` at `pos`, or -1. */
function matchAt(re: RegExp, text: string, pos: number): number {
  re.lastIndex = pos;
  return re.test(text) ? re.lastIndex - pos : -1;
}

/** The first syntax error in `text`, or null when `text` is one valid JSON value. */
export function locateJsonError(text: string): JsonErrorLocation | null {
  const stack: ("[" | "{")[] = [];
  let pos = 0;
  let element: number | null = null;
  const skip = () => {
    pos += matchAt(WHITESPACE, text, pos);
  };
  const fail = (expected: string): JsonErrorLocation => {
    let line = 1;
    let lineStart = 0;
    for (let i = text.indexOf("\n"); i !== -1 && i < pos; i = text.indexOf("\n", i + 1)) {
      line++;
      lineStart = i + 1;
    }
    const received = pos < text.length ? quoteChar(text[pos]!) : "end of input";
    return { offset: pos, line, column: pos - lineStart + 1, element, expected, received };
  };
  /** After `{` or `,` in an object: a key and its colon. */
  const key = (): JsonErrorLocation | null => {
    skip();
    const n = matchAt(STRING, text, pos);
    if (n < 0) return fail("a property name in double quotes");
    pos += n;
    skip();
    if (text[pos] !== ":") return fail("':' after the property name");
    pos++;
    return null;
  };

  for (;;) {
    // A value is expected here.
    skip();
    const c = text[pos];
    if (stack.length === 1 && stack[0] === "[" && element === null) element = 0;
    if (c === "[" || c === "{") {
      stack.push(c);
      pos++;
      skip();
      const close = c === "[" ? "]" : "}";
      if (text[pos] === close) {
        stack.pop();
        pos++;
      } else {
        if (c === "{") {
          const error = key();
          if (error !== null) return error;
        }
        continue;
      }
    } else {
      const n = Math.max(
        matchAt(STRING, text, pos),
        matchAt(NUMBER, text, pos),
        matchAt(LITERAL, text, pos),
      );
      if (n <= 0) return fail("a JSON value");
      pos += n;
    }
    // A value has ended: close containers or move to the next member.
    for (;;) {
      skip();
      const top = stack.at(-1);
      if (top === undefined) return pos === text.length ? null : fail("end of input");
      const close = top === "[" ? "]" : "}";
      if (text[pos] === close) {
        stack.pop();
        pos++;
        continue;
      }
      if (text[pos] !== ",") return fail(`',' or '${close}'`);
      pos++;
      if (stack.length === 1 && top === "[" && element !== null) element++;
      if (top === "{") {
        const error = key();
        if (error !== null) return error;
      }
      break;
    }
  }
}
