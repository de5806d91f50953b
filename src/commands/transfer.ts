import {
  CollectionFileError,
  collectionFileLines,
  importCollectionFile,
  parseCollectionFile,
} from "../contract/collection-file.js";
import { defineCommand, parseCollection } from "./command.js";
import { EXIT, UsageError } from "./io.js";

/** `export <collection>`: the collection as JSON Lines on stdout (contract/collection-file.ts). */
export const exportCommand = defineCommand({
  name: "export",
  usage: "export <collection> > file.jsonl",
  options: {},
  async run({ args, app, io }) {
    const [name, ...rest] = args;
    if (name === undefined || rest.length > 0) throw new UsageError(`usage: ${this.usage}`);
    const collection = parseCollection(name);
    for await (const line of collectionFileLines(app.memory, collection)) io.out(`${line}\n`);
    return EXIT.ok;
  },
});

/**
 * `import <collection> < file.jsonl`: every line is validated before anything is written. A new
 * collection is made with the model the header records; an existing one keeps its own.
 */
export const importCommand = defineCommand({
  name: "import",
  usage: "import <collection> < file.jsonl",
  options: {},
  async run({ args, config, app, io }) {
    const [name, ...rest] = args;
    if (name === undefined || rest.length > 0) throw new UsageError(`usage: ${this.usage}`);
    const collection = parseCollection(name);
    let file: ReturnType<typeof parseCollectionFile>;
    try {
      file = parseCollectionFile(await io.readStdin());
    } catch (error) {
      if (error instanceof CollectionFileError) throw new UsageError(error.message);
      throw error;
    }
    const summary = await importCollectionFile(app.memory, collection, file);
    const { documents, added, replaced } = summary;
    io.out(
      config.json
        ? `${JSON.stringify(summary)}\n`
        : `Imported ${documents} document(s) into "${collection}": ${added} added, ${replaced} replaced.\n`,
    );
    return EXIT.ok;
  },
});
