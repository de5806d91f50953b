import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { stem } from "porter2";
const nltk = `i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it its itself they them their theirs themselves what which who whom this that these those am is are was were be been being have has had having do does did doing a an the and but if or because as until while of at by for with about against between into through during before after above below to from up down in out on off over under again further then once here there when where why how all any both each few more most other some such no nor not only own same so than too very s t can will just don should now d ll m o re ve y ain aren couldn didn doesn hadn hasn haven isn ma mightn mustn needn shan shouldn wasn weren won wouldn`;
const extra = `would could ought let us also get got one two three upon among yet however since via per etc shall may might must need like many much every either neither whose whether although though unless within without across toward towards around onto thus hence else ever never always often here's whom e g i.e mr mrs ms sir dr cannot cant wont dont im ive youre thats whats lets oh ok yes yeah hi hello thing things make made said say says go going went gone done doing`;
const words = [...new Set((nltk + " " + extra).split(/\s+/))];
const db = await lancedb.connect(mkdtempSync(path.join(tmpdir(), "kw-")));
const table = await db.createTable("t", words.map((w, i) => ({ id: `r${i}`, text: `${w} zzz` })));
await table.createIndex("text", { config: lancedb.Index.fts({ stem: true, lowercase: true, asciiFolding: true, removeStopWords: true, language: "English" }) });
const dropped: string[] = [];
const droppedStems = new Set<string>();
for (const w of words) {
  const hits = await table.query().fullTextSearch(new lancedb.MatchQuery(w, "text")).select(["id"]).limit(5).toArray();
  if (hits.length === 0) { dropped.push(w); droppedStems.add(stem(w)); }
}
console.log("dropped", dropped.length, dropped.join(" "));
console.log("kept from nltk:", nltk.split(/\s+/).filter((w) => !dropped.includes(w)).map((w) => `${w}->${stem(w)}`).join(" "));
console.log("stems", [...droppedStems].sort().join(" "));
