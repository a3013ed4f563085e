/** Every recipe in recipes/ passes the schema POST /v1/runs uses; params substitute as documented. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ApiError } from "../src/server/errors.js";
import { applyParams } from "../src/server/recipes.js";
import { RecipeSchema } from "../src/server/schemas.js";

const dir = join(import.meta.dirname, "..", "recipes");
const files = readdirSync(dir).filter((f) => f.endsWith(".json"));

describe("recipes/", () => {
  it("holds the quickstart, a llama2.c + GSM8K and a remote-trainer recipe", () => {
    expect(files).toEqual(
      expect.arrayContaining(["quickstart.json", "llama2c-gsm8k.json", "remote-gpu.json"]),
    );
  });
  for (const file of files) {
    it(`${file} is a valid recipe`, () => {
      const raw = JSON.parse(readFileSync(join(dir, file), "utf8"));
      const result = RecipeSchema.safeParse(applyParams(raw));
      expect(result.error?.issues ?? []).toEqual([]);
    });
  }
});

// Placeholders are the recipe syntax under test, not template literals gone wrong.
const ref = (name: string) => `\${${name}}`;

describe("applyParams", () => {
  const template = {
    params: { data: "../shared/data" },
    path: `${ref("data")}/x.bin`,
    list: [ref("data"), 3],
  };

  it("uses the declared defaults, and given values over them", () => {
    expect(applyParams(template)).toEqual({
      path: "../shared/data/x.bin",
      list: ["../shared/data", 3],
    });
    expect(applyParams(template, { data: "/d" })).toEqual({ path: "/d/x.bin", list: ["/d", 3] });
  });

  it("refuses unknown params and undeclared placeholders, naming them", () => {
    expect(() => applyParams(template, { date: "x" })).toThrow(/no param "date"; it has data/);
    try {
      applyParams({ a: { b: ref("nope") } });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).path).toEqual(["a", "b"]);
    }
  });
});
