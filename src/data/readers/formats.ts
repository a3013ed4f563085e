import type { ChatMessage, DataError, ExampleRecord, RecordSource } from "../types.js";
import { describeValue, isJsonObject, listKeys, plural } from "./describe.js";
import { readerError } from "./errors.js";
import { readChoice, readText, type TextFieldRule } from "./fields.js";

/** The record formats the readers understand. */
export type DatasetFormat = "alpaca" | "gsm8k" | "chat" | "sharegpt";

/**
 * An instruction format: which keys hold instruction, input and output. Alpaca and GPTeacher
 * are one format (GPTeacher calls the output `response`).
 */
interface InstructionSpec {
  kind: "instruction";
  instruction: TextFieldRule;
  input: TextFieldRule;
  output: TextFieldRule;
}

/** A conversation format: where the turn list is, and how its turns name role and text. */
interface ConversationSpec {
  kind: "chat";
  list: string;
  role: string;
  text: string;
  /** Role names accepted in the file → normalised role. */
  roles: Readonly<Record<string, ChatMessage["role"]>>;
}

interface FormatSpec {
  /** The key whose presence identifies the format in auto-detection. */
  signature: string;
  /** The expected shape, for `unknown_format` messages. */
  shape: string;
  spec: InstructionSpec | ConversationSpec;
}

const response = { required: true, blank: "empty_response" } as const;
const prompt = { required: true, blank: "empty_field" } as const;

/**
 * Every format, in auto-detection order. Extra keys in a record are ignored (datasets carry
 * ids, categories, sources).
 */
const FORMATS: Readonly<Record<DatasetFormat, FormatSpec>> = {
  chat: {
    signature: "messages",
    shape: '{"messages": [{"role", "content"}]}',
    spec: {
      kind: "chat",
      list: "messages",
      role: "role",
      text: "content",
      roles: { system: "system", user: "user", assistant: "assistant" },
    },
  },
  sharegpt: {
    signature: "conversations",
    shape: '{"conversations": [{"from", "value"}]}',
    spec: {
      kind: "chat",
      list: "conversations",
      role: "from",
      text: "value",
      roles: {
        system: "system",
        human: "user",
        user: "user",
        gpt: "assistant",
        assistant: "assistant",
        chatgpt: "assistant",
      },
    },
  },
  alpaca: {
    signature: "instruction",
    shape: '{"instruction", "input"?, "output" | "response"}',
    spec: {
      kind: "instruction",
      instruction: { keys: ["instruction"], ...prompt },
      input: { keys: ["input"], required: false, fallback: "", blank: null },
      output: { keys: ["output", "response"], ...response },
    },
  },
  gsm8k: {
    signature: "question",
    shape: '{"question", "answer"}',
    spec: {
      kind: "instruction",
      instruction: { keys: ["question"], ...prompt },
      input: { keys: [], required: false, fallback: "", blank: null },
      output: { keys: ["answer"], ...response },
    },
  },
};

/** Every format name, in auto-detection order. */
export const DATASET_FORMATS = Object.keys(FORMATS) as readonly DatasetFormat[];

/**
 * The format a parsed record looks like, from its keys alone (`messages` → chat,
 * `conversations` → ShareGPT, `instruction` → Alpaca/GPTeacher, `question` → GSM8K), or null.
 * Keys, not values, decide: a record that has `instruction` but a numeric `output` is an Alpaca
 * record with a bad field, and is reported as such rather than as "unknown format".
 */
export function detectFormat(value: unknown): DatasetFormat | null {
  if (!isJsonObject(value)) return null;
  return DATASET_FORMATS.find((f) => Object.hasOwn(value, FORMATS[f].signature)) ?? null;
}

/** The `unknown_format` error for a record whose keys match no format. */
export function unknownFormatError(
  record: Record<string, unknown>,
  source: RecordSource | null,
): DataError {
  const shapes = DATASET_FORMATS.map((f) => `${f} ${FORMATS[f].shape}`).join("; ");
  return readerError(
    "unknown_format",
    `cannot tell the dataset format: expected one of ${shapes}; received a record with keys ` +
      `${listKeys(record)} (pass the format explicitly to get field-level errors)`,
    source,
  );
}

/** The `invalid_top_level` error for a record that is not a JSON object. */
export function notAnObjectError(value: unknown, source: RecordSource): DataError {
  return readerError(
    "invalid_top_level",
    `expected a JSON object per record, received ${describeValue(value)}`,
    source,
  );
}

/**
 * Validates one parsed JSON value as a record of `format`. Throws a `DataError` (with `source`,
 * the offending field and what was expected and received) when it is not one.
 */
export function parseRecord(
  value: unknown,
  format: DatasetFormat,
  source: RecordSource,
): ExampleRecord {
  if (!isJsonObject(value)) throw notAnObjectError(value, source);
  const { spec } = FORMATS[format];
  if (spec.kind === "chat") return { kind: "chat", messages: readTurns(value, spec, source) };
  return {
    kind: "instruction",
    instruction: readText(value, spec.instruction, source),
    input: readText(value, spec.input, source),
    output: readText(value, spec.output, source),
  };
}

const assistantText: TextFieldRule = { keys: [], ...response };
const anyText: TextFieldRule = { keys: [], required: true, blank: null };

/** The turns of a conversation record, roles normalised; at least one assistant turn. */
function readTurns(
  obj: Record<string, unknown>,
  spec: ConversationSpec,
  source: RecordSource,
): ChatMessage[] {
  const turns = obj[spec.list];
  if (!Array.isArray(turns)) {
    throw readerError(
      "invalid_field",
      `expected an array of turns, received ${describeValue(turns)}`,
      source,
      spec.list,
    );
  }
  const messages = turns.map((turn, i): ChatMessage => {
    const path = `${spec.list}[${i}]`;
    if (!isJsonObject(turn)) {
      throw readerError(
        "invalid_field",
        `expected an object {"${spec.role}", "${spec.text}"}, received ${describeValue(turn)}`,
        source,
        path,
      );
    }
    const role = readChoice(turn, spec.role, spec.roles, source, `${path}.`);
    // Every assistant turn is a training target, so each must have text, not only the last.
    const rule = role === "assistant" ? assistantText : anyText;
    const content = readText(turn, { ...rule, keys: [spec.text] }, source, `${path}.`);
    return { role, content };
  });
  if (!messages.some((m) => m.role === "assistant")) {
    throw readerError(
      "missing_response",
      `expected at least one assistant turn, received ${plural(messages.length, "turn")} with roles ` +
        `[${messages.map((m) => m.role).join(", ")}]`,
      source,
      spec.list,
    );
  }
  return messages;
}
