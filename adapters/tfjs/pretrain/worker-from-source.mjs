// Starts worker.ts from source (tests, tsx): Node 20 workers take no `--import`, so tsx's loader
// is registered here, inside the worker, before the TypeScript module loads.
import { register } from "tsx/esm/api";

register();
await import(new URL("./worker.ts", import.meta.url).href);
