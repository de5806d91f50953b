import { specId } from "../embeddings/model-spec.js";
import { MemoryError } from "../errors.js";
import { defineCommand, parseCollection } from "./command.js";
import { UsageError } from "./io.js";

/**
 * `reembed <collection> --model M`: moves the collection to that model (and --dtype). The model
 * must be named on the command line: falling back to the default would move a collection nobody
 * asked to move. Both are the server's options too, so the app already resolved them.
 */
export const reembedCommand = defineCommand({
  name: "reembed",
  usage: "reembed <collection> --model <id|dir|name> [--dtype <dtype>]",
  options: {
    model: { type: "string", value: "id|dir|name", required: true },
    dtype: { type: "string", value: "dtype" },
  },
  async run({ args, config, app, io }) {
    const [name, ...rest] = args;
    if (name === undefined || rest.length > 0) throw new UsageError(`usage: ${this.usage}`);
    const collection = parseCollection(name);
    const target = app.defaultModel;
    io.err(
      `re-embedding "${collection}" with ${specId(target)}; the collection stays readable until it is done\n`,
    );
    let lastReport = 0;
    try {
      const result = await app.memory.reembed(collection, target, {
        onProgress: ({ progress, total, message }) => {
          const now = Date.now();
          if (now - lastReport < 1000 && progress < total) return;
          lastReport = now;
          io.err(`${message}\n`);
        },
      });
      if (config.json) {
        io.out(`${JSON.stringify(result)}\n`);
      } else if (!result.changed) {
        io.out(`"${collection}" already uses ${specId(target)}; nothing to do.\n`);
      } else {
        io.out(
          `Re-embedded ${result.documents} document(s) of "${collection}": ${result.from.model} (${result.from.dimensions}-d) -> ${result.to.model} (${result.to.dimensions}-d).\n`,
        );
      }
      return 0;
    } catch (error) {
      if (!(error instanceof MemoryError)) throw error;
      io.err(`${error.messageFor("cli")}\n`);
      return 1;
    }
  },
});
