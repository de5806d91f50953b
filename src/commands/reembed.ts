import { specId } from "../embeddings/model-spec.js";
import { MemoryError } from "../errors.js";
import { COLLECTION_NAME_PATTERN } from "../limits.js";
import { type Command, UsageError } from "./io.js";

/** `reembed <collection>`: moves the collection to the configured --model / --dtype. */
export const reembedCommand: Command = async (args, config, app, io) => {
  const [collection, ...rest] = args;
  if (!collection || rest.length > 0 || !COLLECTION_NAME_PATTERN.test(collection)) {
    throw new UsageError("usage: reembed <collection> --model <id|dir|name> [--dtype <dtype>]");
  }
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
    io.err(`${error.message}\n`);
    return 1;
  }
};
