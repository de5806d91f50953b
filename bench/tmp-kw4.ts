import { readFileSync } from "node:fs";
import { terms } from "../src/store/keyword-index.js";
const lines = readFileSync("../shared/data/stsbenchmark/sts-dev.csv", "utf8").split("\n").filter(Boolean);
const texts = [...new Set(lines.flatMap((l) => l.split("\t").slice(5, 7)))].slice(0, 20);
for (const t of texts) console.log(terms(t).join(" "));
